//! The numeric kernels add in one documented order, bit for bit, in every build: the AVX-512 and AVX2
//! builds where the CPU has them, and the portable build (the same check runs in the browser in `tests/web.rs`).
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

#[test]
fn kernels_add_in_the_documented_order() {
    assert_eq!(lrp::testing::kernel_mismatch(), None);
}

/// Large layers are shared out among the threads of the current pool by rows (feature `threads`): with
/// two and with three threads (uneven parts) every kernel still gives the documented bits.
#[cfg(feature = "threads")]
#[test]
fn threads_give_the_same_bits() {
    for n in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        pool.install(|| {
            assert_eq!(lrp::ops::threads(), n);
            assert_eq!(lrp::testing::kernel_mismatch(), None, "{n} threads");
        });
    }
}

/// Runs `kernels_add_in_the_documented_order` again in a child process with the environment variable
/// `var` set (read once per process, it picks the kernels' build).
fn again_with(var: &str) {
    if std::env::var_os(var).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe).args(["--exact", "kernels_add_in_the_documented_order"]).env(var, "1").output().unwrap();
    assert!(out.status.success(), "{var}: {}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
fn the_portable_build_gives_the_same_bits() {
    again_with("LRP_PORTABLE");
}

/// Where the CPU has AVX-512 the products use it; the AVX2 build must still be checked there.
#[test]
fn the_avx2_build_gives_the_same_bits() {
    again_with("LRP_NO_AVX512");
}
