//! faultline-reports: HTML reports, the store index and `faultline serve`.
//!
//! Being built (issue 5).
