# The project's commands. `make demo` and `make test` are the README's Quick start; both install what
# they need first (scripts/ensure-tools.sh: check, then install only what is missing).
SHELL := /bin/bash
.DEFAULT_GOAL := help
LRP := target/release/lrp
MNIST ?= ../shared/data/mnist
PORT ?= 8080
# shipped models, the page's default first
MODELS := cnn mlp clever-hans lstm
export CHROMEDRIVER := /usr/bin/chromedriver
# npm's binaryen (scripts/node_modules) provides wasm-opt; cargo-installed tools live in ~/.cargo/bin
export PATH := $(CURDIR)/scripts/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: help demo web site cli test test-rust test-wasm test-e2e bench bench-criterion profile-wasm models fuzz fmt clippy

help:
	@echo "make demo    build the page and serve it on http://127.0.0.1:$(PORT)/"
	@echo "make site    write the page as static files to $(SITE) (for any static host)"
	@echo "make test    run every test (Rust, wasm in Chromium, the page in Chromium)"
	@echo "make bench   print the benchmark tables"
	@echo "make models  retrain the shipped models (needs the MNIST training set in $(MNIST))"

cli:
	@scripts/ensure-tools.sh rust
	@cargo build --quiet --release --features cli

# The page: wasm engine into www/pkg, the same engine with ONNX import into www/pkg-onnx (loaded only when
# a visitor brings an .onnx file), shipped models into www/models (the digit models listed in index.json; the
# photo model beside them, fetched when the Photos view first opens), the QR code encoder into www/vendor
# (npm qrcode-generator, pinned in scripts/package.json) (all generated, not committed). www/pkg-threads is
# the photo engine with threads (loaded by the photo worker when the page is cross-origin isolated): wasm
# atomics need a standard library built with them, so cargo rebuilds std (`-Z build-std`, the toolchain's
# rust-src; RUSTC_BOOTSTRAP=1 lets the pinned stable toolchain take that flag) in a target dir of its own,
# and wasm-opt runs by hand with threads enabled (rustc warns that `atomics` is an unstable target feature:
# expected).
# (shared memory and the thread-local storage exports are asked of the linker explicitly; 1 GiB at most)
THREADS_FLAGS := -C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 -C link-arg=--shared-memory -C link-arg=--max-memory=1073741824 -C link-arg=--import-memory -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base
WASM_OPT := -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue
web:
	@scripts/ensure-tools.sh wasm node
	@wasm-pack --quiet build crate --release --target web --out-dir ../www/pkg --out-name lrp --no-typescript --no-pack
	@wasm-pack --quiet build crate --release --target web --out-dir ../www/pkg-onnx --out-name lrp --no-typescript --no-pack -- --features onnx
	@RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CURDIR)/target/threads RUSTFLAGS='$(THREADS_FLAGS)' wasm-pack --quiet build crate --release --no-opt --target web --out-dir ../www/pkg-threads --out-name lrp --no-typescript --no-pack -- --features web-threads -Z build-std=panic_abort,std
	@wasm-opt $(WASM_OPT) --enable-threads www/pkg-threads/lrp_bg.wasm -o www/pkg-threads/lrp_bg.wasm
	@mkdir -p www/models
	@for m in $(MODELS); do cp models/$$m.safetensors www/models/; done
	@cp models/efficientnet-lite0.safetensors www/models/
	@mkdir -p www/vendor && cp scripts/node_modules/qrcode-generator/dist/qrcode.mjs www/vendor/qrcode.js
	@printf '%s\n' $(MODELS) | awk 'BEGIN{printf "["} {printf "%s{\"stem\":\"%s\"}", (NR>1?",":""), $$0} END{print "]"}' > www/models/index.json

# A self-contained folder of static files (the page, both wasm builds, the models, the test digits) for
# any static host; it needs no special headers (without cross-origin isolation it runs single-threaded).
SITE ?= target/site
site: web
	@rm -rf $(SITE) && mkdir -p $(SITE)
	@cp -r www/index.html www/style.css www/photos.css www/sw.js www/js www/lessons www/vendor www/data www/models www/pkg www/pkg-onnx www/pkg-threads $(SITE)/
	@find $(SITE) -name .gitignore -delete
	@echo "$(SITE): $$(find $(SITE) -type f | wc -l) files, $$(du -sh $(SITE) | cut -f1); copy it to any static host"

demo: web cli
	@$(LRP) serve --root www --port $(PORT)

test: test-rust test-wasm test-e2e

test-rust:
	@scripts/ensure-tools.sh rust
	cargo fmt --all --check
	cargo test --features cli,testing
	cargo clippy --quiet --features cli,testing --all-targets -- -D warnings

test-wasm:
	@scripts/ensure-tools.sh wasm browser
	cargo clippy --quiet --target wasm32-unknown-unknown -p lrp --lib --tests --features testing -- -D warnings
	cargo clippy --quiet --target wasm32-unknown-unknown -p lrp --lib --tests --features testing,onnx -- -D warnings
	wasm-pack test --headless --chrome crate --test web --features testing,onnx

test-e2e: site cli
	@scripts/ensure-tools.sh browser node
	cd tests/e2e && npm test

# Benchmarks print tables (not tests): native per digit, wasm in Chromium with the ratio, the page's
# update time, memory, and Zennit as the reference (skipped when torch is missing); then the photo model:
# native, in the page, and ONNX Runtime, torch and Zennit as references.
bench: cli web
	@scripts/ensure-tools.sh browser node
	cargo build --quiet --release --features cli,testing
	cargo run --quiet --release --example bench_models -- target/bench
	$(LRP) bench --models models/cnn.safetensors models/mlp.safetensors models/lstm.safetensors target/bench/lenet5-toolbox.safetensors target/bench/odd.safetensors --json target/bench/native.json
	node tests/e2e/bench.mjs
	python3 tests/reference/zennit_bench.py
	$(LRP) bench-photo --json target/bench/photo-native.json
	node tests/e2e/bench-photos.mjs
	python3 tests/reference/photo_bench.py

# criterion's statistics for the engine (forward and explain per model and method)
bench-criterion:
	cargo bench --features testing --bench engine

# Where the wasm spends its time: self time per function in headless Chromium (TASKS=cnn:gradient,...).
# A copy of the page in target/profile-www gets a wasm with its name section: built without stripping
# and without wasm-opt (which would drop the names and inline more), so www/pkg stays as it is.
profile-wasm: web cli
	rm -rf target/profile-www && mkdir -p target/profile-www && cp -r www/. target/profile-www/
	CARGO_PROFILE_RELEASE_STRIP=none cargo build --quiet --release --target wasm32-unknown-unknown -p lrp --lib
	wasm-bindgen --target web --no-typescript --out-dir target/profile-www/pkg --out-name lrp target/wasm32-unknown-unknown/release/lrp.wasm
	node tests/e2e/profile.mjs target/profile-www

models: cli
	$(LRP) train --arch mlp --epochs 10 --augment --seed 1 --data $(MNIST) --out models/mlp.safetensors
	$(LRP) train --arch cnn --epochs 15 --augment --seed 1 --data $(MNIST) --out models/cnn.safetensors
	$(LRP) train --arch cnn --epochs 15 --augment --seed 1 --watermark 7,1,1,3,3,1.0,0.9,0.02 --data $(MNIST) --out models/clever-hans.safetensors
	$(LRP) train --arch lstm --epochs 12 --augment --seed 1 --data $(MNIST) --out models/lstm.safetensors

# cargo-fuzz on the model loader, the toolbox importer, the ONNX importer and the photo decoding (nightly Rust; the ONNX
# corpus starts from the committed fixtures, copied into fuzz/corpus, which is not committed); FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --quiet cargo-fuzz
	cd fuzz && cargo +nightly fuzz run model_loader -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && cargo +nightly fuzz run toolbox_import -- -max_total_time=$(FUZZ_SECONDS)
	mkdir -p fuzz/corpus/onnx_import && cp tests/fixtures/onnx/*.onnx fuzz/corpus/onnx_import/
	cd fuzz && cargo +nightly fuzz run onnx_import corpus/onnx_import -- -max_total_time=$(FUZZ_SECONDS)
	mkdir -p fuzz/corpus/image_decode && cp www/data/photos/cat.jpg tests/fixtures/images/*.{png,jpg,gif} fuzz/corpus/image_decode/
	cd fuzz && cargo +nightly fuzz run image_decode corpus/image_decode -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048

fmt:
	cargo fmt --all

clippy:
	cargo clippy --features cli,testing --all-targets -- -D warnings
