//! Headless Chromium loads reports and the index and must draw them without a script error.
//! Skipped (with a printed reason) when `chromium` is not installed.

use std::path::Path;
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

fn status(dom: &str) -> &str {
    let start = dom.find("id=\"status\">").expect("status element") + 12;
    &dom[start..start + dom[start..].find('<').unwrap()]
}

fn report_file(dir: &Path, spec: faultline_reports::sample::SampleSpec) -> String {
    let (history, result) = faultline_reports::sample::generate(&spec);
    let input = faultline_reports::ReportInput::new("browser", &history, &result);
    let path = faultline_reports::write_report(dir, &input).unwrap();
    format!("file://{}", path.display())
}

#[test]
fn violation_report_draws_timeline_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let url = report_file(
        dir.path(),
        faultline_reports::sample::SampleSpec { ops: 400, keys: 2, ..Default::default() },
    );
    let Some(dom) = dump_dom(&url) else { return };
    assert!(!dom.contains("data-script-error=\""), "script error: {}", status(&dom));
    let s = status(&dom);
    assert!(s.starts_with("timeline-drawn bars="), "{s}");
    let bars: usize = s["timeline-drawn bars=".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(bars > 0, "{s}");
    assert!(s.ends_with(" plots=3"), "{s}");
    assert!(dom.contains("<option value=\"0\">✗ k0"), "the illegal key is marked in the selector");
}

#[test]
fn valid_report_draws_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = faultline_reports::sample::SampleSpec {
        ops: 2000,
        stale_read: false,
        faults: false,
        ..Default::default()
    };
    let url = report_file(dir.path(), spec);
    let Some(dom) = dump_dom(&url) else { return };
    assert!(!dom.contains("data-script-error=\""), "script error: {}", status(&dom));
    assert!(status(&dom).starts_with("timeline-drawn"), "{}", status(&dom));
    assert!(dom.contains("hidden=\"\">go to the anomaly</button>"), "no anomaly button");
}
