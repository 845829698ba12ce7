//! The multi-instance suite as one test binary; each module is one area.

mod booking;
mod bovine;
mod discovery;
mod fedify;
mod follows;
mod resilience;
mod smoke;
mod web;
