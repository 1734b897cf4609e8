//! Headless Chromium: the DOM of a page after its scripts ran, or `None` (with a printed
//! reason) when `chromium` is not installed. Shared with faultline-server's tests.

use std::process::Command;

/// `chromium --headless --dump-dom <url>`, or `None` when chromium is missing.
pub fn dump_dom(url: &str) -> Option<String> {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => panic!("chromium failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            eprintln!(
                "skipping: chromium not runnable ({e}); install it with apt-get install chromium"
            );
            None
        }
    }
}
