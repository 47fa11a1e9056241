//! Multiply-adds per second of the matrix-product kernels at the photo model's 1x1-convolution shapes.
fn main() {
    let shapes: &[(usize, usize, usize)] = &[
        (96, 16, 12544),
        (16, 32, 12544),
        (24, 96, 3136),
        (144, 24, 3136),
        (24, 144, 3136),
        (40, 144, 784),
        (240, 40, 784),
        (40, 240, 784),
        (80, 240, 196),
        (480, 80, 196),
        (80, 480, 196),
        (112, 480, 196),
        (672, 112, 196),
        (192, 672, 49),
        (1152, 192, 49),
        (192, 1152, 49),
        (1280, 320, 49),
    ];
    let reps = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (mut tf, mut tt, mut total) = (0.0, 0.0, 0.0);
    for &(m, k, p) in shapes {
        let w: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01).collect();
        let x: Vec<f32> = (0..k * p).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.1).collect();
        let g: Vec<f32> = (0..m * p).map(|i| ((i * 3 % 7) as f32 - 3.0) * 0.1).collect();
        let bias = vec![0.5; m];
        let (mut out, mut gcol) = (vec![0.0; m * p], vec![0.0; k * p]);
        let macs = (m * k * p) as f64;
        let time = |f: &mut dyn FnMut()| {
            f();
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        };
        let a = time(&mut || lrp::ops::matmul(&w, m, k, &x, p, Some(&bias), &mut out));
        let b = time(&mut || lrp::ops::matmul_t(&w, m, k, &g, p, &mut gcol));
        tf += a;
        tt += b;
        total += macs;
        println!("{m:>5} {k:>5} {p:>6}  fwd {:6.1} GMAC/s  t {:6.1} GMAC/s  ({:.0} us, {:.0} us)", macs / a * 1e-9, macs / b * 1e-9, a * 1e6, b * 1e6);
    }
    println!("all: fwd {:.1} GMAC/s ({:.2} ms), t {:.1} GMAC/s ({:.2} ms)", total / tf * 1e-9, tf * 1e3, total / tt * 1e-9, tt * 1e3);
}
