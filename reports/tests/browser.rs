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
    assert!(s.contains(" plots=3 outlined="), "{s}");
    assert!(dom.contains("<option value=\"0\">✗ k0"), "the illegal key is marked in the selector");
    // The explanation says who answered and which faults were active; the plots mark it.
    let explained = &dom[dom.find("What went wrong").expect("an explanation")..];
    let explained = &explained[..explained.find("</section>").unwrap()];
    assert!(explained.contains(", answered by n"), "{explained}");
    assert!(
        explained.contains("No fault was active while these operations ran")
            || explained.contains("Faults active while these operations ran"),
        "{explained}"
    );
    // The operations the explanation names are outlined on the timeline.
    let (history, result) =
        faultline_reports::sample::generate(&faultline_reports::sample::SampleSpec {
            ops: 400,
            keys: 2,
            ..Default::default()
        });
    let named = faultline_reports::explain::explain(&history, result.first_illegal().unwrap());
    assert_eq!(outlined(&dom), sorted_ids(&named), "{s}");
    assert_eq!(named.related.len(), 3, "the stale read, the write it saw, the overwrite it missed");
    assert_eq!(dom.matches("\nanomaly\n</text>").count(), 3, "the anomaly is marked on every plot");
}

/// The ids in the status line's `outlined=` field, ascending.
fn outlined(dom: &str) -> Vec<usize> {
    let s = status(dom);
    let start = s.find(" outlined=").unwrap_or_else(|| panic!("outlined in {s}")) + 10;
    s[start..]
        .split(' ')
        .next()
        .unwrap()
        .split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap())
        .collect()
}

fn sorted_ids(e: &faultline_reports::explain::Explanation) -> Vec<usize> {
    let mut ids: Vec<usize> = e.related.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A kv run's stale get: a put of "7,", appends of "8," "9," "10," and "11," (each answered by
/// n1), then a get answered by n3 that returns "7,8,9,10,", all on key k0, with a partition
/// while the get ran; and one linearizable key beside it.
const KV_STALE_GET: &str = r#"{"index":0,"type":"invoke","process":0,"f":"put","key":"k0","value":"7,","time":1000000}
{"index":1,"type":"ok","process":0,"f":"put","key":"k0","value":"7,","time":2000000,"node":"n1"}
{"index":2,"type":"invoke","process":1,"f":"append","key":"k0","value":"8,","time":3000000}
{"index":3,"type":"ok","process":1,"f":"append","key":"k0","value":"8,","time":4000000,"node":"n1"}
{"index":4,"type":"invoke","process":2,"f":"get","key":"k1","value":null,"time":4100000}
{"index":5,"type":"ok","process":2,"f":"get","key":"k1","value":"","time":4200000,"node":"n2"}
{"index":6,"type":"invoke","process":1,"f":"append","key":"k0","value":"9,","time":5000000}
{"index":7,"type":"ok","process":1,"f":"append","key":"k0","value":"9,","time":6000000,"node":"n1"}
{"index":8,"type":"invoke","process":0,"f":"append","key":"k0","value":"10,","time":7000000}
{"index":9,"type":"ok","process":0,"f":"append","key":"k0","value":"10,","time":8000000,"node":"n1"}
{"index":10,"type":"invoke","process":2,"f":"append","key":"k0","value":"11,","time":9000000}
{"index":11,"type":"ok","process":2,"f":"append","key":"k0","value":"11,","time":10000000,"node":"n1"}
{"index":12,"type":"info","process":"nemesis","f":"start-partition","value":{"groups":[["n1","n2"],["n3"]]},"time":10500000}
{"index":13,"type":"invoke","process":3,"f":"get","key":"k0","value":null,"time":11000000}
{"index":14,"type":"ok","process":3,"f":"get","key":"k0","value":"7,8,9,10,","time":12000000,"node":"n3"}
{"index":15,"type":"info","process":"nemesis","f":"stop-partition","value":null,"time":13000000}
"#;

#[test]
fn kv_report_outlines_the_stale_get_and_the_append_it_missed() {
    use faultline_checker::{check, formats::jsonl, CheckOptions, Verdict};
    let history = jsonl::parse_str(KV_STALE_GET).unwrap();
    let result = check(&history, &"kv".parse().unwrap(), &CheckOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Illegal);
    let named = faultline_reports::explain::explain(&history, result.first_illegal().unwrap());
    // The get (op 6), the append of "11," it missed (op 5), the append of "10," it shows last
    // (op 4).
    assert_eq!(sorted_ids(&named), vec![4, 5, 6], "{named:?}");
    let dir = tempfile::tempdir().unwrap();
    let input = faultline_reports::ReportInput::new("kv", &history, &result);
    let path = faultline_reports::write_report(dir.path(), &input).unwrap();
    let Some(dom) = dump_dom(&format!("file://{}", path.display())) else { return };
    assert!(!dom.contains("data-script-error=\""), "script error: {}", status(&dom));
    assert_eq!(outlined(&dom), vec![4, 5, 6], "{}", status(&dom));
    let explained = &dom[dom.find("What went wrong").expect("an explanation")..];
    assert!(
        explained.contains(
            "The get of key k0 by client 3, answered by n3 (op 6), returned \"7,8,9,10,\" at \
             12 ms, but the append of \"11,\" to key k0 (op 5, client 2, ok via n1, completed \
             at 10 ms) had completed before this get began at 11 ms"
        ),
        "{}",
        &explained[..explained.len().min(2000)]
    );
    assert!(explained.contains("Faults active while these operations ran"), "the partition");
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
