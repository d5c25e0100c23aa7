//! Limits on what one update may hold: they bound the memory of the store and
//! of every viewer's snapshot, whatever the body size limit is.

pub const TITLE_CHARS: usize = 200;
pub const UNIT_CHARS: usize = 32;
pub const TEXT_CHARS: usize = 10_000;
pub const MESSAGE_CHARS: usize = 1_000;
pub const LABEL_CHARS: usize = 200;
pub const LOG_LINE_CHARS: usize = 2_000;
pub const LINE_NAME_CHARS: usize = 64;
pub const LIST_ROWS: usize = 100;
pub const SERIES_LINES: usize = 16;
pub const SERIES_WINDOW: usize = 10_000;
pub const LOG_LINES: usize = 1_000;
/// 30 days.
pub const EXPECT_EVERY_SECONDS: u32 = 30 * 86_400;
pub const BATCH_UPDATES: usize = 1_000;
