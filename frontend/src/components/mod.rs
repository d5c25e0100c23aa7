//! The views. Each widget kind has its own file; [`widget::WidgetCard`] picks
//! the right one, [`dashboard::Dashboard`] lays the cards out, [`nav`] is the
//! dashboard menu, [`login`] the viewer-token form and "Log out", [`placed`]
//! the CSP-safe way to place an element at a computed spot, [`clipped`] a
//! card body that cuts what does not fit, [`wall`] the wall screen around a
//! dashboard (kiosk mode, rotation, wake lock).

pub mod badge;
pub mod clipped;
pub mod clock;
pub mod dashboard;
pub mod gauge;
pub mod list;
pub mod log;
pub mod login;
pub mod nav;
pub mod not_found;
pub mod number;
pub mod placed;
pub mod series;
pub mod status;
pub mod text;
pub mod unknown;
pub mod viewport;
pub mod wall;
pub mod widget;
