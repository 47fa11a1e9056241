//! The `lrp` binary as a user runs it: every method name explains, inputs as .npy and PNG, batches,
//! toolbox import, info, and errors as one line on stderr with a non-zero exit.
#![cfg(not(target_arch = "wasm32"))]

use lrp::testing::{random_pixels, tiny_cnn};
use std::path::{Path, PathBuf};
use std::process::Command;

fn lrp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrp"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lrp-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn write_npy(path: &Path, shape: &[usize], data: Vec<f32>) {
    let arr = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), data).unwrap();
    ndarray_npy::write_npy(path, &arr).unwrap();
}

/// A model and an input in files of their own for each test (tests run in parallel).
fn setup(tag: &str) -> (PathBuf, PathBuf) {
    let model = tmp(&format!("{tag}-tiny.safetensors"));
    std::fs::write(&model, tiny_cnn(3, true).to_safetensors().unwrap()).unwrap();
    let input = tmp(&format!("{tag}-digit.npy"));
    write_npy(&input, &[28, 28], random_pixels(1));
    (model, input)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn explain_works_for_every_method_name() {
    let (model, input) = setup("t1");
    // every method the CNN runs (all but lrp-lstm, which `lstm_models_explain_with_arras_rules` runs)
    for name in lrp::registry::available(&tiny_cnn(3, true)) {
        let out = lrp()
            .args(["explain", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .args(["--method", name, "--steps", "8", "--samples", "4"])
            .output()
            .unwrap();
        let v = json(&out);
        assert_eq!(v["method"], name);
        let rows = v["heatmap"].as_array().unwrap();
        assert_eq!(rows.len(), 28);
        assert!(rows.iter().flat_map(|r| r.as_array().unwrap()).any(|x| x.as_f64().unwrap() != 0.0), "{name}: all-zero heatmap");
        if name.starts_with("lrp") || name.starts_with("epsilon") || name == "deep-taylor" {
            assert_eq!(v["layers"].as_array().unwrap().len(), 10);
        }
    }
}

#[test]
fn explain_writes_npy_png_and_layers() {
    let (model, input) = setup("t2");
    let explain = |args: &[&str], out: &std::path::Path| {
        let st = lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&input).args(args).arg("--out").arg(out).status().unwrap();
        assert!(st.success(), "lrp explain {args:?}");
    };
    let out_npy = tmp("r.npy");
    explain(&["--method", "lrp-0", "--layers"], &out_npy);
    let r: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out_npy).unwrap();
    assert_eq!(r.shape(), &[28, 28]);
    let l3: ndarray::ArrayD<f32> = ndarray_npy::read_npy(out_npy.with_extension("layer3.npy")).unwrap();
    assert_eq!(l3.shape(), &[4, 12, 12]);
    let out_png = tmp("r.png");
    explain(&["--method", "epsilon-plus", "--colormap", "puor"], &out_png);
    assert_eq!(&std::fs::read(&out_png).unwrap()[1..4], b"PNG");
    // rule lists and contrast
    let v = json(
        &lrp()
            .args(["explain", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .args(["--rules", "zb,gamma=0.5,eps,0", "--target", "2", "--contrast", "7"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["target"], 2);
    assert_eq!(v["contrast"], 7);
}

#[test]
fn batches_and_png_inputs() {
    let (model, _) = setup("t3");
    let batch = tmp("batch.npy");
    write_npy(&batch, &[3, 28, 28], (0..3).flat_map(random_pixels).collect());
    let v = json(&lrp().args(["predict", "--model"]).arg(&model).arg("--input").arg(&batch).output().unwrap());
    assert_eq!(v.as_array().unwrap().len(), 3);
    let out = tmp("batch_r.npy");
    assert!(lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&batch).arg("--out").arg(&out).status().unwrap().success());
    let r: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(r.shape(), &[3, 28, 28]);
    // a 100x80 black-on-white PNG drawing is brought to MNIST form
    let png_path = tmp("drawing.png");
    let (w, h) = (100u32, 80u32);
    let mut img = vec![255u8; (w * h) as usize];
    for y in 20..60 {
        for x in 45..52 {
            img[(y * w + x) as usize] = 0;
        }
    }
    let f = std::fs::File::create(&png_path).unwrap();
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header().unwrap().write_image_data(&img).unwrap();
    let v = json(&lrp().args(["predict", "--model"]).arg(&model).arg("--input").arg(&png_path).output().unwrap());
    assert_eq!(v["probabilities"].as_array().unwrap().len(), 10);
}

#[test]
fn inputs_of_any_shape_and_wrapped_methods() {
    // a 3x11x11 residual graph: .npy of [3, 11, 11] and [2, 3, 11, 11], an 11x11 RGB PNG
    let model = tmp("residual.safetensors");
    let net = lrp::testing::residual_net(4, true, true);
    std::fs::write(&model, net.to_safetensors().unwrap()).unwrap();
    let values = |seed: u64| random_pixels(seed).into_iter().take(3 * 11 * 11).collect::<Vec<f32>>();
    let one = tmp("rgb.npy");
    write_npy(&one, &[3, 11, 11], values(1));
    let v = json(
        &lrp()
            .args(["explain", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&one)
            .args(["--method", "smoothgrad:epsilon-plus", "--samples", "3"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["method"], "smoothgrad:epsilon-plus");
    assert_eq!(v["shape"], serde_json::json!([3, 11, 11]));
    let planes = v["heatmap"].as_array().unwrap();
    assert_eq!((planes.len(), planes[0].as_array().unwrap().len(), planes[0][0].as_array().unwrap().len()), (3, 11, 11));
    assert_eq!(v["rules"].as_array().unwrap().len(), net.layers().len(), "the composite inside the wrapper");
    let batch = tmp("rgb-batch.npy");
    write_npy(&batch, &[2, 3, 11, 11], [values(2), values(3)].concat());
    let out = tmp("rgb-batch-r.npy");
    assert!(lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&batch).arg("--out").arg(&out).status().unwrap().success());
    let r: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(r.shape(), &[2, 3, 11, 11]);
    // the same values as a PNG give the same prediction
    let png_path = tmp("rgb.png");
    let rgb: Vec<u8> = (0..121).flat_map(|i| (0..3).map(move |c| (c * 60 + i) as u8)).collect();
    let f = std::fs::File::create(&png_path).unwrap();
    let mut enc = png::Encoder::new(f, 11, 11);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header().unwrap().write_image_data(&rgb).unwrap();
    let from_png = json(&lrp().args(["predict", "--model"]).arg(&model).arg("--input").arg(&png_path).output().unwrap());
    let chw: Vec<f32> = (0..3).flat_map(|c| (0..121).map(move |i| (c * 60 + i) as f32 / 255.0)).collect();
    write_npy(&one, &[3, 11, 11], chw);
    let from_npy = json(&lrp().args(["predict", "--model"]).arg(&model).arg("--input").arg(&one).output().unwrap());
    assert_eq!(from_png, from_npy);
    // wrong shapes are one-line errors that name the expected shape
    write_npy(&one, &[28, 28], random_pixels(1));
    let out = lrp().args(["predict", "--model"]).arg(&model).arg("--input").arg(&one).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[3, 11, 11]"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn import_toolbox_and_info() {
    let txt = tmp("tb.txt");
    std::fs::write(&txt, "MaxPool 14 14 14 14\nFlatten\nLinear 4 2\n1 0 0 1 0 0 0 0\n0 0\nSoftMax\n").unwrap();
    let out = tmp("tb.safetensors");
    let v = json(
        &lrp()
            .arg("import-toolbox")
            .arg(&txt)
            .arg("--out")
            .arg(&out)
            .args(["--scale", "2", "--shift", "-1", "--pad", "2", "--pad-value", "-1"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["input_stage"]["pad"], 2);
    let v = json(&lrp().args(["info", "--model"]).arg(&out).output().unwrap());
    assert_eq!(v["parameters"], 10);
    assert_eq!(v["layers"][0]["input"]["h"], 32);
}

#[test]
fn errors_are_one_line_and_a_non_zero_exit() {
    let (model, input) = setup("t4");
    let bad = tmp("bad.safetensors");
    std::fs::write(&bad, b"not a model").unwrap();
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["explain".into(), "--model".into(), bad.clone().into(), "--input".into(), input.clone().into()],
        vec!["explain".into(), "--model".into(), model.clone().into(), "--input".into(), input.clone().into(), "--method".into(), "nope".into()],
        vec![
            "explain".into(),
            "--model".into(),
            model.clone().into(),
            "--input".into(),
            input.clone().into(),
            "--epsilon".into(),
            "-1".into(),
            "--method".into(),
            "lrp-eps".into(),
        ],
        vec!["explain".into(), "--model".into(), model.clone().into(), "--input".into(), input.clone().into(), "--target".into(), "12".into()],
        vec!["predict".into(), "--model".into(), model.clone().into(), "--input".into(), "/no/such/file.npy".into()],
    ];
    for args in cases {
        let out = lrp().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("lrp: error: "), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn methods_lists_the_registry_and_explain_refuses_other_names() {
    let v = json(&lrp().args(["methods", "--json"]).output().unwrap());
    let names: Vec<&str> = v["methods"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, lrp::registry::names().collect::<Vec<_>>());
    assert!(v["methods"].as_array().unwrap().iter().all(|m| !m["reference"].as_str().unwrap().is_empty()));
    let (model, input) = setup("t-methods");
    let out = lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&input).args(["--method", "lrp-7"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lrp-7") && err.contains("epsilon-plus"), "{err}");
}

#[test]
fn lstm_models_explain_with_arras_rules() {
    let model = tmp("lstm.safetensors");
    std::fs::write(&model, lrp::testing::lstm_model(2, 28, 28, 8, true, 10, true, 0.8).to_safetensors().unwrap()).unwrap();
    let input = tmp("lstm-digit.npy");
    write_npy(&input, &[28, 28], random_pixels(5));
    let out = tmp("lstm-r.npy");
    let run = |extra: &[&str]| {
        json(&lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&input).args(["--method", "lrp-lstm"]).args(extra).output().unwrap())
    };
    let absorbing = run(&[]);
    // the command: the heatmap as .npy, with and without the bias factor
    for extra in [&[][..], &["--bias-factor", "1"]] {
        let status = lrp()
            .args(["explain", "--model"])
            .arg(&model)
            .args(["--method", "lrp-lstm", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
        let r: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
        assert_eq!(r.shape(), [28, 28]);
        let want = run(extra)["sum"].as_f64().unwrap();
        assert!((r.sum() as f64 - want).abs() < 1e-4, "{extra:?}: {} vs {want}", r.sum());
    }
    assert_eq!(absorbing["lstm"]["initial_state"], serde_json::json!([0.0, 0.0]), "bias factor 0: the initial states get nothing");
    assert_eq!(absorbing["lstm"]["rows"].as_array().unwrap().len(), 2);
    // lrp-lstm's own epsilon (0.001) is the default
    assert_eq!(run(&["--epsilon", "0.001"])["sum"], absorbing["sum"]);
    assert_ne!(run(&["--epsilon", "0.1"])["sum"], absorbing["sum"]);
    // bias factor 1: the pixels and the initial states add up to the logit
    let v = run(&["--bias-factor", "1"]);
    let init: f64 = v["lstm"]["initial_state"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum();
    let (sum, explained) = (v["sum"].as_f64().unwrap(), v["explained"].as_f64().unwrap());
    assert!((sum + init - explained).abs() <= 1e-5 * explained.abs().max(1e-3), "{sum} + {init} vs {explained}");
    assert!(init != 0.0);
    // a preset for convolutions is refused with the ones that apply
    let bad = lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&input).args(["--method", "epsilon-plus"]).output().unwrap();
    assert!(!bad.status.success());
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("not defined for LSTM layers") && msg.contains("lrp-lstm"), "{msg}");
}

#[test]
fn no_bias_leaves_the_biases_out_of_the_rules() {
    let v = json(&lrp().args(["methods", "--json"]).output().unwrap());
    let bias = v["params"].as_array().unwrap().iter().find(|p| p["name"] == "bias").expect("the bias parameter is listed");
    assert_eq!((&bias["boolean"], &bias["default"]), (&serde_json::json!(true), &serde_json::json!(1.0)));
    assert!(bias["description"].as_str().unwrap().contains("zero_params"));
    let (model, input) = setup("t-no-bias");
    let run = |extra: &[&str]| {
        json(&lrp().args(["explain", "--model"]).arg(&model).arg("--input").arg(&input).args(["--method", "lrp-0"]).args(extra).output().unwrap())
    };
    let (with, without) = (run(&[]), run(&["--no-bias"]));
    assert_eq!((&with["bias"], &without["bias"]), (&serde_json::json!(true), &serde_json::json!(false)));
    assert_eq!(with["explained"], without["explained"]);
    // LRP-0 without biases passes each dense and conv layer's relevance on; with them some is absorbed
    let lost = |v: &serde_json::Value| -> Vec<(f64, f64)> {
        let layers = v["layers"].as_array().unwrap();
        let weighted = layers.iter().filter(|l| l["kind"] == "dense" || l["kind"] == "conv2d");
        weighted.map(|l| (l["relevance_out"].as_f64().unwrap() - l["relevance_in"].as_f64().unwrap(), l["relevance_out"].as_f64().unwrap())).collect()
    };
    assert_eq!(lost(&without).len(), 4);
    assert!(lost(&without).iter().all(|(d, out)| d.abs() <= 1e-4 * out.abs().max(1e-2)), "{:?}", lost(&without));
    assert!(lost(&with).iter().any(|(d, out)| d.abs() > 1e-2 * out.abs()), "{:?}", lost(&with));
    assert_ne!(with["sum"], without["sum"]);
}

fn onnx_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx").join(name)
}

#[test]
fn onnx_models_predict_explain_and_convert() {
    let (_, input) = setup("onnx");
    let cnn = onnx_fixture("mnist-cnn.onnx");
    // predict: logits, the prediction and the top five classes with names
    let v = json(&lrp().args(["predict", "--model"]).arg(&cnn).arg("--input").arg(&input).output().unwrap());
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert_eq!(top[0]["class"], v["prediction"]);
    assert!(top.windows(2).all(|w| w[0]["logit"].as_f64() >= w[1]["logit"].as_f64()));
    // explain with a registry name, as an .npy of the input's shape
    let out = tmp("onnx-r.npy");
    let st = lrp().args(["explain", "--method", "epsilon-plus-flat", "--model"]).arg(&cnn).arg("--input").arg(&input).arg("--out").arg(&out).status().unwrap();
    assert!(st.success());
    let r: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(r.shape(), [28, 28]);
    // convert keeps the normalisation and class names; the converted file explains the same
    let classes = tmp("onnx-classes.txt");
    std::fs::write(&classes, "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n").unwrap();
    let converted = tmp("onnx-converted.safetensors");
    let v = json(
        &lrp()
            .arg("convert")
            .arg(onnx_fixture("resblock.onnx"))
            .arg("--out")
            .arg(&converted)
            .args(["--mean", "0.5", "--std", "0.5", "--name", "resblock"])
            .arg("--classes")
            .arg(&classes)
            .output()
            .unwrap(),
    );
    assert_eq!(v["name"], "resblock");
    assert_eq!(v["classes"][9], "nine");
    assert_eq!(v["input_stage"]["scale"][0], 2.0);
    let direct = json(
        &lrp().args(["explain", "--mean", "0.5", "--std", "0.5", "--model"]).arg(onnx_fixture("resblock.onnx")).arg("--input").arg(&input).output().unwrap(),
    );
    let again = json(&lrp().args(["explain", "--model"]).arg(&converted).arg("--input").arg(&input).output().unwrap());
    assert_eq!(direct["heatmap"], again["heatmap"]);
    assert_eq!(direct["logits"], again["logits"]);
}

#[test]
fn onnx_errors_are_one_line() {
    let (model, input) = setup("onnx-err");
    let bad = tmp("bad.onnx");
    std::fs::write(&bad, b"this is not a protobuf").unwrap();
    for args in [
        vec!["info".into(), "--model".into(), bad.clone().into_os_string()],
        vec!["info".into(), "--model".into(), model.clone().into_os_string(), "--mean".into(), "0.5".into(), "--std".into(), "0.5".into()],
        vec![
            "predict".into(),
            "--model".into(),
            onnx_fixture("lenet.onnx").into_os_string(),
            "--input".into(),
            input.clone().into_os_string(),
            "--mean".into(),
            "0,1".into(),
            "--std".into(),
            "1".into(),
        ],
    ] {
        let out = lrp().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.trim().lines().count() == 1, "{args:?}: {err}");
    }
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

#[test]
fn photos_predict_by_name_and_explain_as_an_overlay() {
    let model = repo("models/efficientnet-lite0.safetensors");
    let out = lrp().arg("predict").arg("--model").arg(&model).arg("--input").arg(repo("www/data/photos/coffee.jpg")).output().unwrap();
    let v = json(&out);
    assert_eq!(v["top"].as_array().unwrap().len(), 5);
    assert_eq!(v["top"][0]["name"], "espresso");
    let png = tmp("coffee-heat.png");
    let out = lrp()
        .args(["explain", "--method", "epsilon-plus-flat", "--overlay", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(repo("www/data/photos/coffee.jpg"))
        .arg("--out")
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dec = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let info = dec.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (224, 224));
    // a [3, 224, 224] .npy crop goes through the input stage only; its relevance comes back [3, 224, 224]
    let crop = tmp("crop.npy");
    write_npy(&crop, &[3, 224, 224], (0..3 * 224 * 224).map(|i| (i % 251) as f32 / 250.0).collect());
    let r = tmp("crop-r.npy");
    let out = lrp().args(["explain", "--method", "gradient", "--model"]).arg(&model).arg("--input").arg(&crop).arg("--out").arg(&r).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let back: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&r).unwrap();
    assert_eq!(back.shape(), &[3, 224, 224]);
}

#[test]
fn bad_photos_are_one_line_errors() {
    let model = repo("models/efficientnet-lite0.safetensors");
    for (file, says) in [("bomb-20000x20000.png", "megapixels"), ("truncated.jpg", "truncated"), ("zero-0x0.png", "dimensions")] {
        let out = lrp().arg("predict").arg("--model").arg(&model).arg("--input").arg(repo(&format!("tests/fixtures/images/{file}"))).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.lines().count() == 1 && err.contains(says), "{file}: {err}");
    }
}
