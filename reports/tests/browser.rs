//! Headless Chromium loads reports and must draw them without a script error.
//! Skipped (with a printed reason) when `chromium` is not installed.

use std::path::Path;

use crate::chromium::dump_dom;

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
    // The explanation says who answered and which faults were active; the plots mark it.
    let explained = &dom[dom.find("What went wrong").expect("an explanation")..];
    let explained = &explained[..explained.find("</section>").unwrap()];
    assert!(explained.contains(", answered by n"), "{explained}");
    assert!(
        explained.contains("No fault was active then.")
            || explained.contains("Faults active then: "),
        "{explained}"
    );
    assert_eq!(dom.matches("\nanomaly\n</text>").count(), 3, "the anomaly is marked on every plot");
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

/// The `key=` and `window-ns=a..b` fields of the status line.
fn key_and_window(dom: &str) -> (String, i64, i64) {
    let s = status(dom);
    let field = |name: &str| {
        let start = s.find(name).unwrap_or_else(|| panic!("{name} in {s}")) + name.len();
        s[start..].split(' ').next().unwrap().to_string()
    };
    let window = field(" window-ns=");
    let (a, b) = window.split_once("..").unwrap();
    (field(" key="), a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn choosing_a_key_zooms_the_timeline_to_its_operations() {
    // Two keys in turn: k0 takes the first half of the history, k1 the second.
    let dir = tempfile::tempdir().unwrap();
    let spec = faultline_reports::sample::SampleSpec {
        ops: 600,
        keys: 2,
        stale_read: false,
        key_runs: true,
        ..Default::default()
    };
    let (history, _) = faultline_reports::sample::generate(&spec);
    let url = report_file(dir.path(), spec);
    let span = |key: &str| {
        let ops = history.ops.iter().filter(|o| o.key.as_deref() == Some(key));
        let lo = ops.clone().map(|o| o.call).min().unwrap();
        let hi = ops.map(|o| o.ret.unwrap_or(u64::MAX)).max().unwrap();
        (lo, hi)
    };
    let Some(all) = dump_dom(&url) else { return };
    let (key, a0, b0) = key_and_window(&all);
    assert_eq!(key, "all", "{}", status(&all));
    for name in ["k0", "k1"] {
        let dom = dump_dom(&format!("{url}#key={name}")).unwrap();
        assert!(!dom.contains("data-script-error=\""), "script error: {}", status(&dom));
        let (key, a, b) = key_and_window(&dom);
        assert_eq!(key, name);
        // The window holds the key's operations, with little else: about half the history.
        // (Times on the page are whole microseconds for histories this long.)
        let (lo, hi) = span(name);
        assert!(a <= lo as i64 + 1000 && b + 1000 >= hi as i64, "{name}: {a}..{b} vs {lo}..{hi}");
        assert!((b - a) * 10 < (b0 - a0) * 7, "{name}: {a}..{b} is not zoomed in");
    }
}
