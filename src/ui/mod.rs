//! Everything panka prints goes through here: one printer that knows
//! quiet/verbose/json and whether the streams are terminals.

pub mod confirm;
pub mod printer;

pub use confirm::confirm;
pub use printer::Printer;
