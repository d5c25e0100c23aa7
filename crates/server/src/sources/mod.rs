//! Built-in publishers. They go through the same `Hub::publish` path as the push
//! API, so nothing about them is special-cased downstream.

pub mod host;
