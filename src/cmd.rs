//! One thin module per subcommand: parse into the library types, call them, print, and
//! return an [`crate::Exit`].

pub mod bench;
pub mod campaign;
pub mod check;
pub mod run;
pub mod serve;
