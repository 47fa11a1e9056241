//! Writes the benchmark's extra models (random weights, fixed seed) to the directory given (default
//! `target/bench`): `make bench` times them beside the shipped ones.
//!
//! - `lenet5-toolbox`: the LRP Toolbox's LeNet-5 layout (input stage [-1, 1] padded to 32x32; conv
//!   5x5x10, ReLU, sum-pool 2; conv 5x5x25, ReLU, sum-pool 2; conv 4x4x100, ReLU; conv 2x2x10 on the
//!   2x2 map), about the shipped CNN's multiply-adds with odd channel counts.
//! - `odd`: odd channel counts, a strided "SAME" convolution, a depthwise convolution, a residual add
//!   and sum pooling.
use lrp::model::{Conv2d, Dense, InputStage, Layer, ModelMeta, Pool};
use lrp::Model;
use ndarray::{Array1, Array2, Array4};
use rand::{Rng, SeedableRng};

fn conv(r: &mut rand_pcg::Pcg64Mcg, ic: usize, oc: usize, k: usize, stride: usize, pad: [usize; 4], groups: usize) -> Layer {
    let fan = (ic / groups * k * k) as f32;
    let b = (6.0 / fan).sqrt();
    let w: Vec<f32> = (0..oc * ic / groups * k * k).map(|_| r.gen_range(-b..b)).collect();
    let bias: Vec<f32> = (0..oc).map(|_| r.gen_range(-0.05..0.05)).collect();
    let mut c = Conv2d::new(Array4::from_shape_vec((oc, ic / groups, k, k), w).unwrap(), Array1::from(bias), [stride, stride], 0);
    (c.padding, c.groups) = (pad, groups);
    Layer::Conv2d(c)
}

fn dense(r: &mut rand_pcg::Pcg64Mcg, i: usize, o: usize) -> Layer {
    let b = (6.0 / i as f32).sqrt();
    let w: Vec<f32> = (0..i * o).map(|_| r.gen_range(-b..b)).collect();
    Layer::Dense(Dense { weight: Array2::from_shape_vec((o, i), w).unwrap(), bias: Array1::zeros(o) })
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/bench".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
    let sum = |r: f32| Layer::SumPool2d(Pool::new([2, 2], [2, 2]), r);
    let lenet = vec![
        conv(&mut r, 1, 10, 5, 1, [0; 4], 1),
        Layer::Relu,
        sum(0.5),
        conv(&mut r, 10, 25, 5, 1, [0; 4], 1),
        Layer::Relu,
        sum(0.5),
        conv(&mut r, 25, 100, 4, 1, [0; 4], 1),
        Layer::Relu,
        conv(&mut r, 100, 10, 2, 1, [0; 4], 1),
        Layer::Flatten,
    ];
    let lenet = Model::new(InputStage::mnist(2.0, -1.0, 2, -1.0), lenet, ModelMeta::digits("lenet5-toolbox")).unwrap();
    let odd_layers = vec![
        conv(&mut r, 1, 7, 3, 1, [1; 4], 1),        // v1
        Layer::Relu,                                // v2
        conv(&mut r, 7, 13, 3, 2, [0, 0, 1, 1], 1), // v3: 14x14, stride 2 SAME
        Layer::Relu,                                // v4
        conv(&mut r, 13, 13, 3, 1, [1; 4], 13),     // v5: depthwise
        Layer::Relu,                                // v6
        conv(&mut r, 13, 13, 1, 1, [0; 4], 1),      // v7: pointwise
        Layer::Add,                                 // v8 = v7 + v4
        Layer::Relu,                                // v9
        conv(&mut r, 13, 19, 3, 1, [1; 4], 1),      // v10
        Layer::Relu,                                // v11
        sum(0.5),                                   // v12: 7x7
        Layer::Flatten,                             // v13
        dense(&mut r, 19 * 7 * 7, 10),              // v14
    ];
    let inputs: Vec<Vec<usize>> = (0..odd_layers.len()).map(|k| if k == 7 { vec![7, 4] } else { vec![k] }).collect();
    let odd = Model::graph(InputStage::default(), odd_layers, inputs, ModelMeta::digits("odd")).unwrap();
    for m in [lenet, odd] {
        let path = dir.join(format!("{}.safetensors", m.meta().name));
        std::fs::write(&path, m.to_safetensors().unwrap()).unwrap();
        println!("{}: {} parameters, {} multiply-adds", path.display(), m.parameters(), m.multiply_adds());
    }
}
