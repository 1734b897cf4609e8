//! Campaigns in `faultline serve`: the campaigns page, a campaign's page (grid, regression
//! and flaky marks, each cell's history strip linking to the earlier runs' reports) and the
//! read-only JSON API, through the router (`oneshot`) and in headless Chromium over real
//! HTTP (skipped without chromium).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use faultline_server::{app, AppState};
use faultline_store::campaign::{
    self, trend, CampaignPlan, CampaignSummary, CellResult, Expect, Outcome, PlannedCell,
};
use serde_json::Value;
use tower::ServiceExt;

/// Three campaigns named `nightly` (two cells each) and one named `other`. Cell `a` passes,
/// passes, then fails; cell `b` fails, passes, fails: in the newest, both are regressions and
/// flaky.
const TIMES: [&str; 3] = ["20261201T010000.000Z", "20261202T010000.000Z", "20261203T010000.000Z"];

fn plan(name: &str) -> CampaignPlan {
    let cells = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let spec = format!("seed = {}\ntime-limit = 3\n", i + 1);
            let settings = faultline_api::RunSettings::parse_spec("t", &spec, false).unwrap();
            PlannedCell {
                index: i,
                id: format!("{id}-s{}", i + 1),
                origin: "matrix".into(),
                expect: Expect::Pass,
                config: settings.into_config().unwrap(),
            }
        })
        .collect();
    CampaignPlan { name: name.into(), file: None, shard: None, cells }
}

/// Writes a campaign's directory (as `faultline campaign` does) with one report per cell.
fn write_campaign(store: &Path, name: &str, time: &str, outcomes: [Outcome; 2]) {
    let plan = plan(name);
    let dir = store.join("campaigns").join(name).join(time);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cells: Vec<CellResult> = plan
        .cells
        .iter()
        .zip(outcomes)
        .map(|(c, o)| {
            let mut r = CellResult::error(c, "test fixture", None, 3.5);
            r.outcome = o;
            r.reason = None;
            let run = store.join(format!("{name}-{}", c.id)).join(time);
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(run.join("report.html"), format!("<html>{} {time}</html>", c.id))
                .unwrap();
            r.report = Some(run.join("report.html"));
            r
        })
        .collect();
    trend::mark(&plan, time, &mut cells, &trend::scan(store));
    let summary = CampaignSummary::new(&plan, time, cells, Vec::new(), 8.0);
    campaign::write_json(&dir.join(campaign::PLAN_FILE), &plan).unwrap();
    faultline_reports::campaign::write_outputs(&dir, &plan, &summary).unwrap();
}

fn store() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    use Outcome::{Fail, Pass};
    for (time, outcomes) in TIMES.iter().zip([[Pass, Fail], [Pass, Pass], [Fail, Fail]]) {
        write_campaign(&store, "nightly", time, outcomes);
    }
    write_campaign(&store, "other", "20261202T120000.000Z", [Pass, Pass]);
    (d, store)
}

async fn send(router: &axum::Router, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The outcomes and `href`s of the history marks (`<a class="mark o-..."`) in the row of
/// cell `id` (minijinja escapes `/` in attributes as `&#x2f;`; a browser's DOM has `/`).
fn strip(page: &str, id: &str) -> Vec<(String, String)> {
    let row = page
        .split("<tr>")
        .find(|r| r.contains(&format!(">{id}</a></td>")) && r.contains("class=\"strip\""))
        .unwrap_or_else(|| panic!("no row of {id} with a strip in {page}"));
    let strip = &row[row.find("class=\"strip\"").unwrap()..];
    strip
        .split("<a class=\"mark o-")
        .skip(1)
        .map(|m| {
            let outcome = m.split('"').next().unwrap().to_string();
            let href = m.split("href=\"").nth(1).map(|h| h.split('"').next().unwrap());
            (outcome, href.unwrap_or("").replace("&#x2f;", "/"))
        })
        .collect()
}

#[tokio::test]
async fn campaigns_page_grid_and_history_strip() {
    let (_d, store) = store();
    let router = app(AppState::new(crate::server::config(&store)));
    let (status, index) = send(&router, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(index.contains("href=\"/campaigns\""), "the index links to the campaigns");

    let (status, list) = send(&router, "/campaigns", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let order: Vec<usize> = ["nightly/20261203", "other/20261202", "nightly/20261202"]
        .iter()
        .map(|k| list.find(&format!("/campaigns/{k}")).unwrap_or_else(|| panic!("{k}: {list}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first: {order:?}");
    assert!(list.contains("id=\"status\">campaigns 4<"), "{list}");
    let newest = &list[order[0]..order[1]];
    assert!(newest.contains("<td class=\"n-pass\">0</td><td class=\"n-fail\">2</td>"), "{newest}");
    assert!(newest.contains("2 regression(s)") && newest.contains("2 flaky"), "{newest}");

    let (status, page) = send(&router, &format!("/campaigns/nightly/{}", TIMES[2]), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The grid (defined once, in campaign::html) with its marks.
    assert!(page.contains("<table class=\"grid\">"), "{page}");
    assert!(page.contains("<span class=\"flag regression\">regression</span>"));
    assert!(page.contains("<span class=\"flag flaky\">flaky</span>"));
    // Each cell's strip: one mark per earlier campaign of the name, newest last, each linking
    // to that run's report.
    let a = strip(&page, "a-s1");
    let b = strip(&page, "b-s2");
    let reports = |id: &str| -> Vec<String> {
        TIMES[..2].iter().map(|t| format!("/runs/nightly-{id}/{t}/report.html")).collect()
    };
    assert_eq!(a.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["pass", "pass"]);
    assert_eq!(a.iter().map(|m| m.1.clone()).collect::<Vec<_>>(), reports("a-s1"));
    assert_eq!(b.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["fail", "pass"]);
    assert_eq!(b.iter().map(|m| m.1.clone()).collect::<Vec<_>>(), reports("b-s2"));
    // A strip's link is served.
    assert_eq!(send(&router, &a[0].1, None).await.0, StatusCode::OK);
    // The oldest campaign has no earlier one: empty strips.
    let (_, first) = send(&router, &format!("/campaigns/nightly/{}", TIMES[0]), None).await;
    assert!(strip(&first, "a-s1").is_empty());

    assert_eq!(send(&router, "/campaigns/nightly/20200101T000000.000Z", None).await.0, 404);
    assert_eq!(send(&router, "/campaigns/..%2F..%2Fetc/passwd", None).await.0, 400);
}

#[tokio::test]
async fn campaigns_api_lists_and_shows_summaries() {
    let (_d, store) = store();
    let mut c = crate::server::config(&store);
    c.token = Some("tok".into());
    let router = app(AppState::new(c));
    for uri in ["/api/campaigns", "/campaigns", &format!("/api/campaigns/nightly/{}", TIMES[2])] {
        assert_eq!(send(&router, uri, None).await.0, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let (status, body) = send(&router, "/api/campaigns", Some("tok")).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    let all = v["campaigns"].as_array().unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0]["id"], format!("nightly/{}", TIMES[2]));
    assert_eq!(all[0]["counts"]["fail"], 2);
    assert_eq!(all[0]["regressions"], serde_json::json!(["a-s1", "b-s2"]));
    assert_eq!(all[0]["page"], format!("/campaigns/nightly/{}", TIMES[2]));
    assert!(all[0].get("cells").is_none(), "the list has no cells");

    let (status, body) =
        send(&router, &format!("/api/campaigns/nightly/{}", TIMES[2]), Some("tok")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["exit_code"], 1);
    assert_eq!(s["cells"].as_array().unwrap().len(), 2);
    assert_eq!(s["flaky"], serde_json::json!(["a-s1", "b-s2"]));
    let junit = s["junit"].as_str().unwrap();
    let (status, xml) = send(&router, junit, Some("tok")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(xml.contains("<testsuites"), "{xml}");
    let (status, body) = send(&router, "/api/campaigns/nightly/nope", Some("tok")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("no campaign nightly/nope"));
}

#[tokio::test]
async fn campaign_pages_in_chromium() {
    let (_d, store) = store();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(crate::server::config(&store));
    let server = tokio::spawn(faultline_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");
    let dom = |path: String| {
        let url = format!("{base}{path}");
        tokio::task::spawn_blocking(move || crate::chromium::dump_dom(&url))
    };
    if let Some(list) = dom("/campaigns".into()).await.unwrap() {
        assert!(list.contains("id=\"status\">campaigns 4<"), "{list}");
        assert!(list.contains(&format!("href=\"/campaigns/nightly/{}\"", TIMES[2])), "{list}");
        let page = dom(format!("/campaigns/nightly/{}", TIMES[2])).await.unwrap().unwrap();
        assert!(page.contains("class=\"flag regression\""), "{page}");
        let a = strip(&page, "a-s1");
        assert_eq!(a.len(), 2, "{page}");
        assert_eq!(a[1].1, format!("/runs/nightly-a-s1/{}/report.html", TIMES[1]));
        // The mark links to the run's report, which the browser opens.
        let report = dom(a[1].1.clone()).await.unwrap().unwrap();
        assert!(report.contains(&format!("a-s1 {}", TIMES[1])), "{report}");
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
