//! `marlin models fetch` against a local HTTP server on 127.0.0.1 serving an oracle
//! checkpoint: a connection cut mid-file is resumed with a Range request, the result is
//! verified and renamed into place; a 404 and a corrupt file leave nothing behind.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::util::{arg, marlin, oracle, stderr};

#[derive(Clone, Copy)]
enum Behaviour {
    /// The first response stops after half the body; later ones honour `Range`.
    CutOnce,
    /// Every request gets 404.
    NotFound,
}

/// Serves `body` at any path; returns the base URL and the request log ("GET /x range=…").
fn serve(body: Vec<u8>, behaviour: Behaviour) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().take(8).enumerate() {
            let Ok(stream) = stream else { continue };
            let _ = respond(stream, &body, behaviour, i, &log2);
        }
    });
    (url, log)
}

fn respond(
    mut s: TcpStream,
    body: &[u8],
    behaviour: Behaviour,
    i: usize,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(s.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range_start = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range_start = v.trim().trim_end_matches('-').parse::<usize>().ok();
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push(format!("GET {path} range={range_start:?}"));
    match behaviour {
        Behaviour::NotFound => {
            s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        }
        Behaviour::CutOnce => {
            let start = range_start.unwrap_or(0);
            let head = if start > 0 {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len() - start,
                    body.len() - 1,
                    body.len()
                )
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            };
            s.write_all(head.as_bytes())?;
            let end = if i == 0 { body.len() / 2 } else { body.len() };
            s.write_all(&body[start..end])?;
        }
    }
    s.flush()?;
    s.shutdown(std::net::Shutdown::Both)
}

fn fetch(url: &str, cache: &Path, name: &str) -> std::process::Output {
    marlin(
        &["models", "fetch", name],
        &[("MARLIN_RELEASE_URL", url), ("MARLIN_CACHE_DIR", arg(cache)), ("NO_PROXY", "127.0.0.1")],
    )
}

#[test]
fn a_cut_download_resumes_verifies_and_lands_atomically() {
    // the vit_small oracle weights are the released architecture; the loader sniffs the format
    let body = std::fs::read(oracle("models/marlin_vit_small_random.encoder.f16.safetensors")).unwrap();
    let (url, log) = serve(body.clone(), Behaviour::CutOnce);
    let cache = tempfile::tempdir().unwrap();
    let o = fetch(&url, cache.path(), "vit_small_ytf");
    assert!(o.status.success(), "{}", stderr(&o));
    let dest = cache.path().join("marlin_vit_small_ytf.encoder.pt");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), arg(&dest));
    assert_eq!(std::fs::read(&dest).unwrap(), body, "the cached file differs from the served one");
    assert!(!cache.path().join("marlin_vit_small_ytf.encoder.pt.part").exists());
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], "GET /marlin_vit_small_ytf.encoder.pt range=None");
    assert_eq!(log[1], format!("GET /marlin_vit_small_ytf.encoder.pt range=Some({})", body.len() / 2));

    // the released name now resolves to the cache
    let out = cache.path().join("f.npy");
    let o = marlin(
        &[
            "encode",
            "--model",
            "vit_small_ytf",
            "--clip",
            oracle("clips/face.u8.npy").to_str().unwrap(),
            "-o",
            arg(&out),
        ],
        &[("MARLIN_CACHE_DIR", cache.path().to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(marlin_npy::read(&out).unwrap().shape, vec![384]);
}

#[test]
fn a_missing_release_file_is_an_http_error() {
    let (url, _) = serve(Vec::new(), Behaviour::NotFound);
    let cache = tempfile::tempdir().unwrap();
    let o = fetch(&url, cache.path(), "vit_base_ytf");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("HTTP 404"), "{}", stderr(&o));
    assert!(!cache.path().join("marlin_vit_base_ytf.encoder.pt").exists());
}

#[test]
fn a_download_that_is_not_the_model_is_deleted() {
    // the tiny checkpoint is a valid file but not the vit_base architecture
    let body = std::fs::read(oracle("models/marlin_tiny.encoder.pt")).unwrap();
    let (url, _) = serve(body, Behaviour::CutOnce);
    let cache = tempfile::tempdir().unwrap();
    let o = fetch(&url, cache.path(), "vit_base_ytf");
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("does not load as marlin_vit_base_ytf.encoder.pt") && e.contains("contradicts"), "{e}");
    assert!(!cache.path().join("marlin_vit_base_ytf.encoder.pt").exists());
    assert!(!cache.path().join("marlin_vit_base_ytf.encoder.pt.part").exists());
}

#[test]
fn the_face_detector_is_fetched_into_the_cache_and_found_there() {
    let body = std::fs::read(crate::util::detector_path()).unwrap();
    let (url, _) = serve(body.clone(), Behaviour::CutOnce);
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("MARLIN_CACHE_DIR", cache.path().to_str().unwrap()),
        ("MARLIN_DETECTOR_URL", &format!("{url}/face_detection_retina.pkl")),
    ];
    let o = marlin(&["models", "fetch", "retinaface"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let dest = cache.path().join("face_detection_retina.pkl");
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    // `detect` without --detector finds it.
    let out = cache.path().join("faces.csv");
    let o =
        marlin(&["detect", crate::util::media("registry/single_face.jpg").to_str().unwrap(), "-o", arg(&out)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    // A file that is not the detector is refused and removed.
    let (url, _) = serve(std::fs::read(oracle("models/marlin_tiny.encoder.pt")).unwrap(), Behaviour::CutOnce);
    let other = tempfile::tempdir().unwrap();
    let env = [("MARLIN_CACHE_DIR", other.path().to_str().unwrap()), ("MARLIN_DETECTOR_URL", &format!("{url}/x.pkl"))];
    let o = marlin(&["models", "fetch", "retinaface"], &env);
    assert!(!o.status.success());
    assert!(!other.path().join("face_detection_retina.pkl").exists());
}

#[test]
fn onnx_runtime_is_fetched_from_its_wheel_and_found_in_the_cache() {
    // the wheel tools/onnxruntime.sh (run by tools/setup.sh) downloaded from PyPI
    let wheels = crate::util::onnxruntime().parent().unwrap().join("../..");
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("the onnxruntime wheel");
    let body = std::fs::read(&wheel).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let env = |url: &str| {
        vec![
            ("MARLIN_ONNXRUNTIME_URL", url.to_string()),
            ("MARLIN_CACHE_DIR", cache.path().display().to_string()),
            ("NO_PROXY", "127.0.0.1".into()),
            ("ORT_DYLIB_PATH", String::new()),
        ]
    };
    let run = |args: &[&str], env: &[(&str, String)]| {
        marlin(args, &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
    };

    // a corrupt download is refused and leaves nothing
    let mut bad = body.clone();
    bad[1000] ^= 1;
    let (url, _) = serve(bad, Behaviour::CutOnce);
    let o = run(&["models", "fetch", "onnxruntime"], &env(&url));
    assert!(!o.status.success() && stderr(&o).contains("SHA-256"), "{}", stderr(&o));
    let dir = cache.path().join("onnxruntime/1.32.0");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "left behind: {:?}",
        std::fs::read_dir(&dir).unwrap().collect::<Vec<_>>()
    );

    // a cut download resumes; the library lands in the cache, the wheel is gone
    let (url, log) = serve(body, Behaviour::CutOnce);
    let o = run(&["models", "fetch", "onnxruntime"], &env(&url));
    assert!(o.status.success(), "{}", stderr(&o));
    let lib = dir.join("libonnxruntime.so.1.32.0");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), arg(&lib));
    assert!(lib.is_file() && dir.join("libonnxruntime_providers_shared.so").is_file());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    assert_eq!(log.lock().unwrap().len(), 2, "resumed once");

    // found there with no flag and no ORT_DYLIB_PATH
    let o = run(&["doctor"], &env(&url));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.lines().any(|l| l.starts_with("onnxruntime") && l.contains(arg(&lib))), "{out}");
}
