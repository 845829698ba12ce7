//! One file per area of the site; each handler validates through the service
//! layer and renders a template.

pub mod admin;
pub mod auth;
pub mod booking;
pub mod booking_settings;
pub mod calendar;
pub mod directory;
pub mod feeds;
pub mod help;
pub mod home;
pub mod karma;
pub mod messages;
pub mod notifications;
pub mod offerings;
pub mod remote;
pub mod room;
pub mod settings;
pub mod upcoming;
