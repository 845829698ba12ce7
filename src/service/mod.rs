//! Application services: the use cases (sign up, log in, save an advisor
//! profile, search the directory). They apply the domain rules, call storage
//! and send mail; the web pages and the JSON API both call them, so a rule is
//! enforced the same way whichever door a request comes through.

pub mod accounts;
pub mod activities;
pub mod actors;
pub mod advisors;
mod after_answer;
pub mod agenda;
pub mod api_tokens;
pub mod app;
pub mod availability;
pub mod booking;
pub mod busy;
pub mod calendar_view;
mod changes;
mod error;
pub mod feeds;
pub mod follows;
pub mod instances;
pub mod jobs;
pub mod karma;
pub mod messages;
pub mod mirroring;
pub mod notifications;
pub mod offerings;
pub mod people;
pub mod ports;
pub mod publishing;
pub mod rate_limit;
pub mod remote_actors;
pub mod remote_booking;
pub mod remote_requests;
pub mod rooms;
pub mod secrets;

pub use app::App;
pub use error::AppError;
