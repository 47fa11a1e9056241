//! Generates the ONNX protobuf types (`$OUT_DIR/onnx.rs`) from the vendored `proto/onnx.proto` (ONNX
//! 1.23.2, Apache-2.0): protox compiles it in pure Rust (no system `protoc`), prost-build writes the types.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let files = protox::compile(["onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    prost_build::Config::new().compile_fds(files).expect("prost-build writes the ONNX types");
}
