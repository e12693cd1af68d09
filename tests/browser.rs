//! Headless Chromium driven over the DevTools protocol, for the tests of pages marlin writes:
//! launched with a fresh profile and a debugging port of its own choosing (read back from
//! `DevToolsActivePort`), one tab attached through a flat session; JavaScript evaluated, real
//! mouse events dispatched, console errors, failed loads and uncaught exceptions collected,
//! screenshots taken. Every wait is time-boxed, and the browser is killed when the handle drops.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    loaded: bool,
    /// Console errors, failed loads and uncaught exceptions, as the page reported them.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

/// The browser: `CHROMIUM`, else `/usr/bin/chromium` (tools/setup.sh installs it).
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "Chromium is needed to test the report in a browser: {} is missing (tools/setup.sh installs it, or set CHROMIUM)",
        path.display()
    );
    path
}

impl Browser {
    /// A headless browser with one tab of `width × height` CSS pixels.
    pub fn launch(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Chromium");
        // from here the handle's Drop kills the browser on any failure
        let mut guard = Guard(Some(child));
        let active = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + STEP;
        let (port, path) = loop {
            let text = std::fs::read_to_string(&active).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                break (port.to_string(), path.to_string());
            }
            if let Some(status) = guard.0.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("Chromium exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "Chromium did not open its debugging port within {STEP:?}");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).expect("cannot reach Chromium's debugging port");
        stream.set_read_timeout(Some(STEP)).unwrap();
        let (socket, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .unwrap_or_else(|e| panic!("DevTools handshake failed: {e}"));
        // short reads from here, so that waits can check their deadlines
        socket.get_ref().set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut browser = Browser {
            child: guard.0.take().unwrap(),
            socket,
            session: String::new(),
            next_id: 0,
            loaded: false,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = browser.call("Target.attachToTarget", json!({ "targetId": target, "flatten": true }));
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({}));
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Sends a command (to the tab once attached) and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap_or_else(|e| panic!("{method}: {e}"));
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(reply) = self.receive(deadline, method)
                && reply["id"] == json!(id)
            {
                if let Some(e) = reply.get("error") {
                    panic!("{method} failed: {e}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// The next message (None for an event, which is recorded), or a panic at `deadline`.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Option<Value> {
        let message = match self.socket.read() {
            Ok(Message::Text(text)) => serde_json::from_str::<Value>(text.as_str()).unwrap(),
            Ok(_) => return None,
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(Instant::now() < deadline, "no answer from Chromium to {waiting_for} within {STEP:?}");
                return None;
            }
            Err(e) => panic!("lost Chromium while waiting for {waiting_for}: {e}"),
        };
        if message.get("id").is_some() {
            return Some(message);
        }
        let p = &message["params"];
        match message["method"].as_str().unwrap_or("") {
            "Page.loadEventFired" => self.loaded = true,
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                self.errors.push(format!("uncaught: {} {}", d["text"], d["exception"]["description"]));
            }
            "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                let args: Vec<String> =
                    p["args"].as_array().into_iter().flatten().map(|a| a["value"].to_string()).collect();
                self.errors.push(format!("console.{}: {}", p["type"], args.join(" ")));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                self.errors.push(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]));
            }
            _ => {}
        }
        None
    }

    /// Opens `page` (a file) and waits for its load event.
    pub fn open(&mut self, page: &Path) {
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        self.loaded = false;
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + STEP;
        while !self.loaded {
            self.receive(deadline, "the page's load event");
        }
    }

    /// The value of a JavaScript expression (promises awaited); a thrown error panics.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }));
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {}", e["exception"]["description"]);
        }
        r["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy; its last value in the panic otherwise.
    pub fn wait_for(&mut self, expression: &str, what: &str) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            let v = self.eval(expression);
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: not within {STEP:?} (last: {v})");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real mouse click at `fraction` (0–1) across the width of the first element `selector`
    /// matches, at its middle height, once scrolled into view.
    pub fn click(&mut self, selector: &str, fraction: f64) {
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({0}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left, r.top, r.width, r.height]; }})()",
            json!(selector)
        ));
        let r: Vec<f64> = rect
            .as_array()
            .unwrap_or_else(|| panic!("nothing matches {selector}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let (x, y) = (r[0] + r[2] * fraction, r[1] + r[3] / 2.0);
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// A PNG of the top `height` CSS pixels of the page (at most its height), at the tab's width.
    pub fn screenshot(&mut self, path: &Path, height: u32) {
        let size = self.eval("[document.documentElement.clientWidth, document.documentElement.scrollHeight]");
        let clip = json!({ "x": 0, "y": 0, "width": size[0], "height": size[1].as_u64().unwrap().min(height as u64), "scale": 1 });
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }));
        let bytes = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a browser that never became a [`Browser`].
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
