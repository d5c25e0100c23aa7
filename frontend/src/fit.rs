//! Kiosk mode's grid: how many columns and rows make a dashboard's cards fill
//! the screen edge to edge, and how large its text is then.
//!
//! Pure, tested natively. The grid places cards with CSS's dense auto-flow
//! (`grid-auto-flow: row dense`), whose placement [`place`] repeats exactly,
//! so the rows computed here are the rows the browser fills: every card
//! lands inside the screen. Cells the cards leave empty (13 cells of cards
//! on a 4 × 4 grid) are given to a neighbouring card, which grows into them
//! ([`Fit::spans`]), so the screen is covered edge to edge.

use protocol::Size;

/// A kiosk grid: its columns and rows, and the root font size (px) that
/// scales the cards' text (every size in the stylesheet is in rem) with the
/// cells, so values stay readable from across a room on a large screen and
/// still fit on a small one.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub cols: u32,
    pub rows: u32,
    pub font_px: f64,
    /// Cells too short for a card's full layout at that font (a wall of
    /// many cards, where the font is at its minimum): cards then keep their
    /// title and value and drop the rest (kiosk.css, `data-kiosk-dense`).
    pub dense: bool,
    /// Each card's span on this grid: its own, narrowed to the grid, and
    /// grown into the cells no card takes.
    pub spans: Vec<Size>,
}

/// The card shape aimed for: a little wider than tall, like a card of the
/// normal grid.
const CARD_ASPECT: f64 = 1.5;
/// At most this many columns: beyond it a card holds too little.
const MAX_COLS: u32 = 12;
/// The root font size, as a share of the cell's height, within bounds.
const FONT_PER_CELL_HEIGHT: f64 = 1.0 / 11.0;
const FONT_PER_CELL_WIDTH: f64 = 1.0 / 17.0;
const MIN_FONT_PX: f64 = 12.0;
const MAX_FONT_PX: f64 = 56.0;
/// A card's full layout (title, value, change, sparkline, with its padding)
/// takes about 12 rem; below this many, the grid is dense.
const FULL_CARD_REM: f64 = 9.5;

/// The best grid for cards of `sizes` (columns, rows spanned) on a screen
/// of `width` × `height` px. Never fewer columns than the widest card spans.
pub fn fit(sizes: &[Size], width: f64, height: f64) -> Fit {
    let widest = sizes
        .iter()
        .map(|s| u32::from(s.0.max(1)))
        .max()
        .unwrap_or(1);
    let cells: u32 = sizes
        .iter()
        .map(|s| u32::from(s.0.max(1)) * u32::from(s.1.max(1)))
        .sum::<u32>()
        .max(1);
    let (width, height) = (width.max(1.0), height.max(1.0));
    let mut best: Option<(f64, u32, u32)> = None;
    for cols in widest.min(MAX_COLS)..=MAX_COLS.min(cells.max(widest)) {
        let rows = rows_needed(sizes, cols).max(1);
        let (cell_w, cell_h) = (width / f64::from(cols), height / f64::from(rows));
        // How far the cells are from the aimed shape, and how much of the
        // grid stays empty: both cost.
        let ratio = (cell_w / cell_h) / CARD_ASPECT;
        let shape = ratio.max(1.0 / ratio) - 1.0;
        let empty = 1.0 - f64::from(cells) / f64::from(cols * rows);
        let score = shape + 2.0 * empty;
        if best.is_none_or(|(s, _, _)| score < s) {
            best = Some((score, cols, rows));
        }
    }
    let (_, cols, rows) = best.unwrap_or((0.0, 1, 1));
    let spans = grown(sizes, cols, rows);
    let cell_w = width / f64::from(cols);
    let cell_h = height / f64::from(rows);
    let font_px = (cell_h * FONT_PER_CELL_HEIGHT)
        .min(cell_w * FONT_PER_CELL_WIDTH)
        .clamp(MIN_FONT_PX, MAX_FONT_PX);
    let font_px = font_px.round();
    Fit {
        cols,
        rows,
        font_px,
        dense: cell_h < FULL_CARD_REM * font_px,
        spans,
    }
}

/// Where each card lands: `(row, column, columns, rows)`.
type Placed = (usize, usize, usize, usize);

/// The rows a grid of `cols` columns needs for `sizes`.
pub fn rows_needed(sizes: &[Size], cols: u32) -> u32 {
    let (_, taken) = place(sizes, cols);
    taken.len() as u32
}

/// Places `sizes` in order as CSS's dense auto-placement does: each card
/// goes to the first free spot, row by row from the top, where it fits
/// (spans wider than the grid are narrowed to it, as the kiosk stylesheet
/// does). Returns where each card went and which cells are taken.
fn place(sizes: &[Size], cols: u32) -> (Vec<Placed>, Vec<Vec<bool>>) {
    let cols = cols.max(1) as usize;
    let mut taken: Vec<Vec<bool>> = Vec::new();
    let mut placed = Vec::with_capacity(sizes.len());
    for size in sizes {
        let w = usize::from(size.0.max(1)).min(cols);
        let h = usize::from(size.1.max(1));
        let mut row = 0;
        let col = loop {
            let free = |r: usize, c: usize| taken.get(r).is_none_or(|line| !line[c]);
            let spot =
                (0..=cols - w).find(|&c| (row..row + h).all(|r| (c..c + w).all(|c| free(r, c))));
            if let Some(col) = spot {
                break col;
            }
            row += 1;
        };
        while taken.len() < row + h {
            taken.push(vec![false; cols]);
        }
        for line in &mut taken[row..row + h] {
            line[col..col + w].fill(true);
        }
        placed.push((row, col, w, h));
    }
    (placed, taken)
}

/// The cards' spans on a `cols` × `rows` grid, each grown rightwards into
/// cells no card takes. Growing into cells the placement left empty
/// moves no other card: no card was placed there, so none is placed
/// elsewhere for their being taken.
fn grown(sizes: &[Size], cols: u32, rows: u32) -> Vec<Size> {
    let (mut placed, mut taken) = place(sizes, cols);
    taken.resize(rows as usize, vec![false; cols as usize]);
    let free = |taken: &[Vec<bool>], r: usize, c: usize| {
        taken
            .get(r)
            .and_then(|line| line.get(c))
            .is_some_and(|t| !t)
    };
    // Rightwards only: dense placement leaves its holes at the ends of rows
    // (a row's last card takes the rest of its row); a hole it cannot reach
    // (beneath a taller neighbour) stays, which the grid's gaps make look
    // deliberate.
    for (row, col, w, h) in &mut placed {
        while (*row..*row + *h).all(|r| free(&taken, r, *col + *w)) {
            (*row..*row + *h).for_each(|r| taken[r][*col + *w] = true);
            *w += 1;
        }
    }
    placed
        .iter()
        .map(|&(_, _, w, h)| Size(w.min(255) as u8, h.min(255) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones(n: usize) -> Vec<Size> {
        vec![Size(1, 1); n]
    }

    #[test]
    fn dense_placement_fills_holes_as_css_does() {
        // A 2-wide card after one small card on 2 columns leaves a hole the
        // next small card fills (dense), so three rows become two.
        let sizes = [Size(1, 1), Size(2, 1), Size(1, 1)];
        assert_eq!(rows_needed(&sizes, 2), 2);
        assert_eq!(rows_needed(&[Size(2, 2), Size(1, 1), Size(1, 1)], 3), 2);
        assert_eq!(rows_needed(&ones(7), 3), 3);
        // Wider than the grid: narrowed.
        assert_eq!(rows_needed(&[Size(4, 1)], 2), 1);
        assert_eq!(rows_needed(&[], 3), 0);
    }

    #[test]
    fn cards_fill_a_landscape_screen() {
        // 12 equal cards on full HD: 4 × 3, cells of 480 × 360.
        let full_hd = fit(&ones(12), 1920.0, 1080.0);
        assert_eq!((full_hd.cols, full_hd.rows), (4, 3));
        assert_eq!(full_hd.font_px, 28.0);
        // The same on 720p: the same grid, smaller text.
        let hd = fit(&ones(12), 1280.0, 720.0);
        assert_eq!((hd.cols, hd.rows), (4, 3));
        assert!(hd.font_px < full_hd.font_px && hd.font_px >= MIN_FONT_PX);
        // One card takes the whole screen, with large text.
        let one = fit(&ones(1), 1920.0, 1080.0);
        assert_eq!((one.cols, one.rows), (1, 1));
        assert_eq!(one.font_px, MAX_FONT_PX);
        assert_eq!(one.spans, [Size(1, 1)]);
        assert!(!full_hd.dense && !hd.dense && !one.dense);
    }

    #[test]
    fn many_cards_make_a_dense_grid() {
        // 200 cards on full HD: the widest grid, cells ~63 px tall, at the
        // smallest font: too short for a card's full layout.
        let wall = fit(&ones(200), 1920.0, 1080.0);
        assert_eq!(wall.cols, MAX_COLS);
        assert_eq!(wall.font_px, MIN_FONT_PX);
        assert!(wall.dense, "{wall:?}");
        // 80 cards on 1280 x 720 too; 24 not.
        assert!(fit(&ones(80), 1280.0, 720.0).dense);
        assert!(!fit(&ones(24), 1280.0, 720.0).dense);
    }

    #[test]
    fn empty_cells_go_to_a_neighbour() {
        // Seven small cards on 3 × 3: the last grows over the two empty cells.
        let grid = fit(&ones(7), 1920.0, 1080.0);
        assert_eq!((grid.cols, grid.rows), (3, 3));
        assert_eq!(grid.spans[6], Size(3, 1));
        assert!(grid.spans[..6].iter().all(|s| *s == Size(1, 1)));
        // Grown, the cards land where they did, and cover every cell.
        let mixed = [Size(2, 1), Size(1, 1), Size(1, 2), Size(1, 1), Size(2, 1)];
        for cols in 2..=5 {
            let rows = rows_needed(&mixed, cols);
            let spans = grown(&mixed, cols, rows);
            let (before, _) = place(&mixed, cols);
            let (after, taken) = place(&spans, cols);
            let starts = |placed: &[Placed]| placed.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>();
            assert_eq!(starts(&before), starts(&after), "{cols} columns: {spans:?}");
            assert_eq!(taken.len() as u32, rows, "{cols} columns: {spans:?}");
        }
        // Cards one row tall leave no hole at all.
        for n in [5, 7, 11, 13] {
            let cards = ones(n);
            for cols in 2..=5 {
                let rows = rows_needed(&cards, cols);
                let spans = grown(&cards, cols, rows);
                let cells: usize = spans.iter().map(|s| usize::from(s.0)).sum();
                assert_eq!(cells, (cols * rows) as usize, "{n} cards, {cols} columns");
            }
        }
    }

    #[test]
    fn every_card_gets_a_place_inside_the_grid() {
        let mixed = [
            Size(2, 1),
            Size(1, 1),
            Size(1, 2),
            Size(4, 1),
            Size(1, 1),
            Size(2, 2),
            Size(1, 1),
        ];
        for (w, h) in [(1920.0, 1080.0), (1280.0, 720.0), (1080.0, 1920.0)] {
            let grid = fit(&mixed, w, h);
            assert!(grid.cols >= 4, "{w}x{h}: {grid:?}");
            assert_eq!(grid.rows, rows_needed(&mixed, grid.cols), "{w}x{h}");
        }
        // No cards at all: one empty cell, not a division by zero.
        assert_eq!(fit(&[], 1280.0, 720.0).cols, 1);
    }
}
