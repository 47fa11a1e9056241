//! The development server (`lrp serve`): loopback only, only the root folder, no path traversal in any
//! encoding, the security headers, the right MIME types. Raw HTTP over a TcpStream, no client library.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(root: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lrp")).args(["serve", "--port", "0", "--root"]).arg(root).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_string();
    Server { child, addr }
}

/// Sends a raw request line; returns (status, headers lower-cased, body).
fn get(addr: &str, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

/// A root of a few files, one per test (the tests run in parallel: a shared one was rewritten under a
/// running server).
fn site(test: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("lrp-serve-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(root.join("www/pkg")).unwrap();
    std::fs::write(root.join("www/index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(root.join("www/pkg/lrp_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(root.join("www/pkg/lrp.js"), "export {}").unwrap();
    std::fs::write(root.join("secret.txt"), "outside the root").unwrap();
    root
}

#[test]
fn binds_loopback_and_serves_the_root_with_headers_and_types() {
    let root = site("headers");
    let srv = start(&root.join("www"));
    assert!(srv.addr.starts_with("127.0.0.1:"), "{}", srv.addr);
    let (status, head, body) = get(&srv.addr, "GET", "/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<title>t</title>"));
    assert!(head.contains("content-security-policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"), "{head}");
    assert!(head.contains("connect-src 'self'"));
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("content-type: text/html"));
    assert!(get(&srv.addr, "GET", "/pkg/lrp_bg.wasm").1.contains("content-type: application/wasm"));
    assert!(get(&srv.addr, "GET", "/pkg/lrp.js").1.contains("content-type: text/javascript"));
    assert_eq!(get(&srv.addr, "HEAD", "/pkg/lrp.js").0, 200);
    assert_eq!(get(&srv.addr, "POST", "/").0, 405);
    assert_eq!(get(&srv.addr, "GET", "/missing.js").0, 404);
    // the other interfaces are not served: only 127.0.0.1 was bound
    let other = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|_| s)).and_then(|s| s.local_addr());
    if let Ok(a) = other {
        if !a.ip().is_loopback() && !a.ip().is_unspecified() {
            let port = srv.addr.split(':').nth(1).unwrap();
            assert!(TcpStream::connect(format!("{}:{port}", a.ip())).is_err(), "reachable on {}", a.ip());
        }
    }
}

#[test]
fn path_traversal_is_refused_in_every_encoding() {
    let root = site("traversal");
    let srv = start(&root.join("www"));
    for path in [
        "/../secret.txt",
        "/pkg/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/pkg/%2e%2e/%2e%2e/secret.txt",
        "/%252e%252e/secret.txt",
        "/..%5csecret.txt",
        "/.%2e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "//etc/passwd",
        "/pkg/..;/..;/secret.txt",
    ] {
        let (status, _, body) = get(&srv.addr, "GET", path);
        assert!(status >= 400, "{path} answered {status}");
        assert!(!String::from_utf8_lossy(&body).contains("outside the root"), "{path} leaked the file");
    }
}

#[test]
fn silent_connections_hold_up_no_request_and_garbage_is_refused() {
    let root = site("silent");
    let srv = start(&root.join("www"));
    // eight connections that never send a request (a browser's spare sockets), then many requests at once
    let idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(&srv.addr).unwrap()).collect();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || get(&addr, "GET", "/pkg/lrp.js").0)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    drop(idle);
    // a request head that is not HTTP, and one larger than any browser's
    for junk in [b"\x16\x03\x01 not http\r\n\r\n".to_vec(), vec![b'a'; 64 * 1024]] {
        let mut s = TcpStream::connect(&srv.addr).unwrap();
        let _ = s.write_all(&junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(buf.starts_with(b"HTTP/1.1 400"), "{:?}", String::from_utf8_lossy(&buf[..buf.len().min(40)]));
    }
    assert_eq!(get(&srv.addr, "GET", "/").0, 200, "still serving");
}
