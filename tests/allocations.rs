//! After the first explanation, explaining again allocates nothing (buffers are reused).
//! Counted with a global allocator in this test binary: a count, not a timing.
#![cfg(not(target_arch = "wasm32"))]

use lrp::testing::{random_pixels, tiny_cnn, tiny_mlp};
use lrp::{Explainer, Method, Params, Query};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn explaining_again_allocates_nothing() {
    for model in [tiny_cnn(1, true), tiny_mlp(2, true)] {
        let mut ex = Explainer::new(&model);
        let xs: Vec<Vec<f32>> = (0..4).map(random_pixels).collect();
        for name in ["epsilon-plus", "epsilon-gamma-box", "lrp-0", "lrp-alpha2-beta1", "gradient", "gradient-x-input", "integrated-gradients", "smoothgrad", "simple-taylor"] {
            let m = Method::from_name(name, &model, &Params { steps: 4, samples: 4, ..Params::default() }).unwrap();
            let q = Query { target: Some(1), contrast: Some(4), normalize: false };
            ex.explain(&model, &xs[0], &m, &q).unwrap();
            let before = ALLOCS.load(Ordering::Relaxed);
            for x in &xs {
                ex.explain(&model, x, &m, &q).unwrap();
                ex.explain(&model, x, &m, &Query::default()).unwrap();
            }
            let n = ALLOCS.load(Ordering::Relaxed) - before;
            assert_eq!(n, 0, "{name} on {}: {n} allocations in 8 explanations", model.meta().name);
        }
    }
}
