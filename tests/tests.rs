//! Integration tests of the `faultline` command, all in one binary (ripgrep's layout).

mod campaign;
mod check;
mod run;
mod serve;
