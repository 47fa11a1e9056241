//! Generates the ONNX protobuf types (`$OUT_DIR/onnx.rs`) from the vendored `proto/onnx.proto` (the part
//! of ONNX 1.23.2's onnx.proto the importer reads, Apache-2.0): protox compiles it in pure Rust (no system
//! `protoc`), prost-build writes the types.

//! Only with the `onnx` feature; without it there is nothing to generate.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    #[cfg(feature = "onnx")]
    {
        let files = protox::compile(["onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
        prost_build::Config::new().compile_fds(files).expect("prost-build writes the ONNX types");
    }
}
