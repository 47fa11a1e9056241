//! `lrp serve`: the development server for the demo (std's TCP listener, `httparse` for the request
//! head, a thread and one request per connection). Binds loopback only, serves only the given root
//! (default `www/`), answers GET and HEAD, refuses path traversal (plain, percent-encoded, double-encoded,
//! backslashes), and sets the Content-Security-Policy, `nosniff`, cross-origin isolation (which also gives
//! the page's timings 5 µs resolution instead of 100 µs) and the right MIME types (`application/wasm`).

use lrp::LrpError;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The page's Content-Security-Policy: nothing from other origins, no inline script, no eval but wasm.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// directory to serve
    #[arg(long, default_value = "www")]
    root: PathBuf,
    /// port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file below `root`, or the status code that refuses it.
pub fn resolve(root: &Path, url: &str) -> Result<PathBuf, u16> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().map_err(|_| 400u16)?;
    // a '%' left after decoding is a double encoding: refuse rather than guess
    if decoded.contains(['%', '\\', '\0']) || !decoded.starts_with('/') {
        return Err(400);
    }
    let rel = Path::new(decoded.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(403);
    }
    let mut full = root.join(rel);
    if full.is_dir() {
        full = full.join("index.html");
    }
    let canon_root = root.canonicalize().map_err(|_| 500u16)?;
    let canon = full.canonicalize().map_err(|_| 404u16)?;
    if !canon.starts_with(&canon_root) {
        return Err(403);
    }
    if !canon.is_file() {
        return Err(404);
    }
    Ok(canon)
}

pub fn serve(a: ServeArgs) -> lrp::Result<()> {
    if !a.root.is_dir() {
        return Err(LrpError::Io(format!("{}: not a directory", a.root.display())));
    }
    let listener = TcpListener::bind(("127.0.0.1", a.port)).map_err(|e| LrpError::Io(format!("cannot listen on 127.0.0.1:{}: {e}", a.port)))?;
    let addr = listener.local_addr().map(|s| s.to_string()).unwrap_or_default();
    println!("serving {} on http://{addr}/ (loopback only; Ctrl-C stops)", a.root.display());
    let _ = std::io::stdout().flush();
    let root = Arc::new(a.root);
    // a thread per connection, one request each (`Connection: close`): a browser's parallel requests
    // are never queued behind a kept-alive connection
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = handle(&root, stream);
        });
    }
    Ok(())
}

/// Largest request head read (a browser's is under 2 KiB).
const MAX_HEAD: usize = 16 * 1024;

fn handle(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::with_capacity(2048);
    let mut buf = [0u8; 2048];
    let (method, path) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => break (req.method.unwrap_or("").to_string(), req.path.unwrap_or("").to_string()),
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => continue,
            _ => return write_response(&mut stream, 400, "text/plain; charset=utf-8", b"400\n", true),
        }
    };
    if method != "GET" && method != "HEAD" {
        return write_response(&mut stream, 405, "text/plain; charset=utf-8", b"method not allowed\n", true);
    }
    let body = method == "GET";
    match resolve(root, &path).and_then(|p| std::fs::read(&p).map(|d| (p, d)).map_err(|_| 404)) {
        Ok((p, data)) => write_response(&mut stream, 200, mime(&p), &data, body),
        Err(code) => write_response(&mut stream, code, "text/plain; charset=utf-8", format!("{code}\n").as_bytes(), body),
    }
}

fn write_response(stream: &mut TcpStream, code: u16, mime: &str, data: &[u8], body: bool) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nConnection: close\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-cache\r\nCross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\nCross-Origin-Resource-Policy: same-origin\r\n\r\n",
        data.len()
    );
    stream.write_all(head.as_bytes())?;
    if body {
        stream.write_all(data)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused() {
        let root = std::env::temp_dir().join(format!("lrp-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "hi").unwrap();
        std::fs::write(root.join("sub/a.js"), "x").unwrap();
        assert!(resolve(&root, "/").unwrap().ends_with("index.html"));
        assert!(resolve(&root, "/sub/a.js?v=1").unwrap().ends_with("sub/a.js"));
        for bad in [
            "/../etc/passwd",
            "/sub/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/%252e%252e/etc/passwd",
            "/..%5cetc",
            "/sub/%2e%2e/%2e%2e/x",
            "//etc/passwd",
            "/nope.js",
        ] {
            assert!(resolve(&root, bad).is_err(), "{bad}");
        }
    }
}
