//! The stack a resolved profile describes: which tables, functions, rules and routes it holds,
//! and the values the templates render them with.

mod model;
pub mod traffic;

pub use model::{build, deployed_functions, StackModel, TableModel};
