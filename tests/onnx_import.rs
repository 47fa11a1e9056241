//! ONNX import: what it folds and fuses, and every kind of bad file getting one clear error (never a
//! panic, never a half-loaded model). The good files are the PyTorch exports of tests/fixtures/onnx/
//! (their logits and heatmaps are checked against torch and Zennit in zennit_reference.rs); the bad
//! ones are those files edited with the crate's own protobuf types.
#![cfg(not(target_arch = "wasm32"))]

use lrp::model::onnx::proto::{self, tensor_proto::DataType, ModelProto, NodeProto, TensorProto};
use lrp::model::{import_onnx, Layer, OnnxOptions};
use lrp::{Explainer, LrpError, Model};
use prost::Message;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx").join(name)).unwrap()
}

fn decode(name: &str) -> ModelProto {
    ModelProto::decode(fixture(name).as_slice()).unwrap()
}

fn load(m: &ModelProto) -> lrp::Result<Model> {
    import_onnx(&m.encode_to_vec(), &OnnxOptions::default())
}

/// The error's message (the test fails if the file loads).
fn error(m: &ModelProto) -> String {
    match load(m) {
        Ok(_) => panic!("the file loaded"),
        Err(LrpError::Onnx(msg)) => msg,
        Err(other) => panic!("not an ONNX error: {other}"),
    }
}

fn graph(m: &mut ModelProto) -> &mut proto::GraphProto {
    m.graph.as_mut().unwrap()
}

fn node<'a>(m: &'a mut ModelProto, op: &str) -> &'a mut NodeProto {
    graph(m).node.iter_mut().find(|n| n.op_type() == op).unwrap()
}

fn initializer(m: &mut ModelProto, dims: usize) -> &mut TensorProto {
    graph(m).initializer.iter_mut().find(|t| t.dims.len() == dims).unwrap()
}

#[test]
fn the_pytorch_exports_load_with_their_structure() {
    // resblock: TorchScript's padding subgraph folded into the stem's padding, BatchNorm folded into the
    // project conv, the residual Add kept
    let m = import_onnx(&fixture("resblock.onnx"), &OnnxOptions::default()).unwrap();
    let types: Vec<&str> = m.layers().iter().map(Layer::kind).collect();
    assert_eq!(types, ["conv2d", "relu", "conv2d", "clamp", "conv2d", "clamp", "conv2d", "add", "relu", "flatten", "dense"]);
    let Layer::Conv2d(stem) = &m.layers()[0] else { unreachable!() };
    assert_eq!((stem.stride, stem.padding), ([2, 2], [0, 0, 1, 1]), "TensorFlow SAME: the odd pixel after");
    let Layer::Conv2d(dw) = &m.layers()[4] else { unreachable!() };
    assert_eq!(dw.groups, 16);
    assert_eq!(m.inputs(7), [7, 2], "the residual sum reads the block input");
    // the flat [N, 784] MLP input becomes the 28x28 stage and a flatten
    let mlp = import_onnx(&fixture("mlp.onnx"), &OnnxOptions::default()).unwrap();
    assert_eq!(mlp.input_stage().input_shape(), lrp::model::Shape::new(1, 28, 28));
    assert!(matches!(mlp.layers()[0], Layer::Flatten));
    assert!(mlp.meta().description.contains("opset 11"), "{}", mlp.meta().description);
}

#[test]
fn options_set_the_input_stage_and_the_class_names() {
    let names: Vec<String> = "zero one two three four five six seven eight nine".split(' ').map(String::from).collect();
    let o = OnnxOptions { classes: Some(names.clone()), ..OnnxOptions::default() }.with_mean_std(&[0.5], &[0.25]).unwrap();
    assert!(OnnxOptions::default().with_mean_std(&[0.5, 0.5], &[0.25]).is_err());
    assert!(OnnxOptions::default().with_mean_std(&[0.5], &[0.0]).is_err());
    let m = import_onnx(&fixture("softmax.onnx"), &o).unwrap();
    assert_eq!(m.meta().classes, names);
    assert_eq!((m.input_stage().scale[0], m.input_stage().shift[0]), (4.0, -2.0));
    let wrong = OnnxOptions { classes: Some(names[..3].to_vec()), ..OnnxOptions::default() };
    let e = import_onnx(&fixture("softmax.onnx"), &wrong).unwrap_err().to_string();
    assert!(e.contains("3 class names for 10 outputs"), "{e}");
    let three = OnnxOptions { scale: vec![1.0, 2.0, 3.0], ..OnnxOptions::default() };
    let e = import_onnx(&fixture("softmax.onnx"), &three).unwrap_err().to_string();
    assert!(e.contains("3 values of the input scale for 1 channels"), "{e}");
}

#[test]
fn truncated_random_and_non_model_bytes_are_refused() {
    let bytes = fixture("lenet.onnx");
    for cut in [1, 7, bytes.len() / 3, bytes.len() - 1] {
        let e = import_onnx(&bytes[..cut], &OnnxOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("ONNX model: "), "{cut}: {e}");
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 16, 1000, 100_000] {
        let random: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(import_onnx(&random, &OnnxOptions::default()).is_err(), "{len} random bytes");
    }
    // a valid protobuf message, but a tensor, not a model
    let t = TensorProto { dims: vec![3], data_type: Some(DataType::Float as i32), float_data: vec![1.0; 3], ..Default::default() };
    assert!(import_onnx(&t.encode_to_vec(), &OnnxOptions::default()).is_err());
    // a model without a graph
    let e = error(&ModelProto::default());
    assert!(e.contains("holds no ONNX graph"), "{e}");
}

#[test]
fn every_unsupported_operator_is_named_with_its_node() {
    let mut m = decode("lenet.onnx");
    let relus: Vec<usize> = graph(&mut m).node.iter().enumerate().filter(|(_, n)| n.op_type() == "Relu").map(|(i, _)| i).collect();
    assert_eq!(relus.len(), 3);
    for (k, &i) in relus.iter().enumerate() {
        let n = &mut graph(&mut m).node[i];
        n.op_type = Some(if k == 2 { "Elu" } else { "Sigmoid" }.into());
        n.name = Some(format!("/act{k}/op"));
    }
    let e = error(&m);
    assert_eq!(e, "unsupported ONNX operator Sigmoid at node \"/act0/op\" (and 2 more: Sigmoid at \"/act1/op\", Elu at \"/act2/op\")");
    // another domain's operator
    let mut m = decode("lenet.onnx");
    node(&mut m, "Relu").domain = Some("com.microsoft".into());
    assert!(error(&m).contains("com.microsoft::Relu"));
}

#[test]
fn unsupported_structure_is_refused_clearly() {
    // two inputs
    let mut m = decode("mlp.onnx");
    let extra = graph(&mut m).input[0].clone();
    graph(&mut m).input.push(proto::ValueInfoProto { name: Some("second".into()), ..extra });
    assert!(error(&m).contains("2 inputs (input, second): only one input is supported"));
    // two outputs
    let mut m = decode("mlp.onnx");
    let out = graph(&mut m).output[0].clone();
    graph(&mut m).output.push(out);
    assert!(error(&m).contains("2 outputs"));
    // a dynamic spatial size
    let mut m = decode("lenet.onnx");
    let Some(proto::type_proto::Value::TensorType(t)) = graph(&mut m).input[0].r#type.as_mut().unwrap().value.as_mut() else { unreachable!() };
    t.shape.as_mut().unwrap().dim[2].value = Some(proto::tensor_shape_proto::dimension::Value::DimParam("height".into()));
    assert!(error(&m).contains("dynamic or invalid size in axis 2"));
    // a cycle: the first Relu reads the last Relu's output
    let mut m = decode("lenet.onnx");
    let last = graph(&mut m).node.iter().rev().find(|n| n.op_type() == "Relu").unwrap().output[0].clone();
    node(&mut m, "Relu").input[0] = last;
    assert!(error(&m).contains("cycle"), "{}", error(&m));
    // a read of a tensor nothing makes
    let mut m = decode("lenet.onnx");
    node(&mut m, "Relu").input[0] = "nowhere".into();
    assert!(error(&m).contains("reads tensor \"nowhere\", which no node"));
    // external data
    let mut m = decode("lenet.onnx");
    initializer(&mut m, 4).data_location = Some(proto::tensor_proto::DataLocation::External as i32);
    assert!(error(&m).contains("external data file"));
    // an opset out of range
    let mut m = decode("lenet.onnx");
    m.opset_import.iter_mut().for_each(|o| o.version = Some(7));
    assert!(error(&m).contains("opset 7 is not supported"));
    // a Softmax inside the network
    let mut m = decode("softmax.onnx");
    node(&mut m, "Relu").op_type = Some("Softmax".into());
    assert!(error(&m).contains("Softmax inside the network"));
}

#[test]
fn lying_huge_and_non_finite_tensors_are_refused() {
    // declared size larger than the data
    let mut m = decode("lenet.onnx");
    let t = initializer(&mut m, 4);
    t.dims[0] += 1;
    let e = error(&m);
    assert!(e.contains("declares shape") && e.contains("but holds"), "{e}");
    // dims of 10^9 (no allocation is attempted)
    let mut m = decode("lenet.onnx");
    initializer(&mut m, 4).dims = vec![1_000_000_000, 1_000_000_000, 1, 1];
    assert!(error(&m).contains("larger than the limit"));
    // NaN weights
    let mut m = decode("mlp.onnx");
    let t = initializer(&mut m, 2);
    let raw = t.raw_data.as_mut().unwrap();
    raw[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = error(&m);
    assert!(e.starts_with("node \"") && e.ends_with("(Gemm): NaN or infinite parameters"), "{e}");
    // a ConstantOfShape that would make 10^12 values
    let mut m = decode("resblock.onnx");
    let huge = TensorProto {
        name: Some("huge".into()),
        dims: vec![2],
        data_type: Some(DataType::Int64 as i32),
        int64_data: vec![1_000_000, 1_000_000],
        ..Default::default()
    };
    graph(&mut m).initializer.push(huge);
    node(&mut m, "ConstantOfShape").input[0] = "huge".into();
    assert!(error(&m).contains("larger than the limit"), "{}", error(&m));
}

#[test]
fn a_failed_load_changes_nothing_and_a_good_one_explains() {
    let good = import_onnx(&fixture("concat.onnx"), &OnnxOptions::default()).unwrap();
    let mut ex = Explainer::new(&good);
    let x = vec![0.5; good.input_len()];
    let before = ex.predict(&good, &x).unwrap().logits.clone();
    let mut bad = decode("concat.onnx");
    node(&mut bad, "Relu").op_type = Some("Sigmoid".into());
    assert!(load(&bad).is_err());
    assert_eq!(ex.predict(&good, &x).unwrap().logits, before);
    // the converted model keeps its structure and numbers
    let back = Model::try_from(good.to_safetensors().unwrap().as_slice()).unwrap();
    assert_eq!(Explainer::new(&back).predict(&back, &x).unwrap().logits, before);
}

#[test]
fn the_shipped_cnn_exported_from_pytorch_explains_exactly_as_the_shipped_file() {
    // tests/fixtures/onnx/mnist-cnn.onnx: the shipped CNN in float32 (mnist-cnn.safetensors beside it;
    // models/cnn.safetensors holds it in float16) written as PyTorch, ending in log_softmax, exported by
    // TorchScript; the import must be the same network, bit for bit
    let onnx = import_onnx(&fixture("mnist-cnn.onnx"), &OnnxOptions::default()).unwrap();
    assert!(onnx.meta().description.contains("LogSoftmax was removed"), "{}", onnx.meta().description);
    let shipped_bytes = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx/mnist-cnn.safetensors")).unwrap();
    let shipped = Model::try_from(shipped_bytes.as_slice()).unwrap();
    assert_eq!(onnx.layers(), shipped.layers());
    let (mut a, mut b) = (Explainer::new(&onnx), Explainer::new(&shipped));
    let mut state = 7u32;
    let x: Vec<f32> = (0..784)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32
        })
        .collect();
    for name in ["gradient", "epsilon-plus", "epsilon-gamma-box", "integrated-gradients"] {
        let m = lrp::Method::from_name(name, &onnx, &lrp::Params::default()).unwrap();
        let q = lrp::Query::default();
        let ha = a.explain(&onnx, &x, &m, &q).unwrap().heatmap.clone();
        let hb = b.explain(&shipped, &x, &m, &q).unwrap().heatmap.clone();
        assert_eq!(ha, hb, "{name}");
    }
}

/// The model's logits for one input.
fn logits(m: &Model, x: &[f32]) -> Vec<f32> {
    Explainer::new(m).predict(m, x).unwrap().logits.clone()
}

#[test]
fn float16_models_and_weights_in_constant_nodes_load() {
    let x: Vec<f32> = (0..784).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
    let want = logits(&import_onnx(&fixture("lenet.onnx"), &OnnxOptions::default()).unwrap(), &x);
    // every float32 initializer as float16, and the input declared float16 (as `model.half()` exports)
    let mut m = decode("lenet.onnx");
    for t in &mut graph(&mut m).initializer {
        if t.data_type() == DataType::Float as i32 {
            let raw = t.raw_data.take().unwrap();
            let halves: Vec<u8> = raw.chunks_exact(4).flat_map(|c| half::f16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes()).collect();
            t.raw_data = Some(halves);
            t.data_type = Some(DataType::Float16 as i32);
        }
    }
    let Some(proto::type_proto::Value::TensorType(t)) = graph(&mut m).input[0].r#type.as_mut().unwrap().value.as_mut() else { unreachable!() };
    t.elem_type = Some(DataType::Float16 as i32);
    let got = logits(&load(&m).unwrap(), &x);
    let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-2 * scale, "float16 weights: {a} vs {b}");
    }
    assert_ne!(got, want, "the weights were rounded to float16");
    // the weights of every layer in Constant nodes instead of initializers: the same logits
    let mut m = decode("lenet.onnx");
    let inits = std::mem::take(&mut graph(&mut m).initializer);
    let constants: Vec<NodeProto> = inits
        .into_iter()
        .map(|t| NodeProto {
            output: vec![t.name().to_string()],
            name: Some(format!("const:{}", t.name())),
            op_type: Some("Constant".into()),
            attribute: vec![proto::AttributeProto {
                name: Some("value".into()),
                r#type: Some(proto::attribute_proto::AttributeType::Tensor as i32),
                t: Some(t),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let nodes = std::mem::take(&mut graph(&mut m).node);
    graph(&mut m).node = nodes.into_iter().chain(constants).collect(); // after their readers: the loader sorts
    assert_eq!(logits(&load(&m).unwrap(), &x), want);
}

#[test]
fn an_empty_kernel_is_an_error_not_a_panic() {
    // a convolution weight with a zero dimension (SAME padding would compute kernel - 1)
    for dims in [vec![6, 1, 0, 5], vec![0, 1, 5, 5]] {
        let mut m = decode("lenet.onnx");
        let t = initializer(&mut m, 4);
        t.dims = dims.clone();
        t.raw_data = Some(Vec::new());
        node(&mut m, "Conv").attribute.retain(|a| a.name() != "kernel_shape");
        node(&mut m, "Conv").attribute.push(proto::AttributeProto { name: Some("auto_pad".into()), s: Some(b"SAME_UPPER".to_vec()), ..Default::default() });
        let e = error(&m);
        assert!(e.contains("empty weight") || e.contains("declares"), "{dims:?}: {e}");
    }
}
