use protocol::List;
use yew::prelude::*;

use super::placed::Placed;

#[derive(Properties, PartialEq)]
pub struct ListProps {
    pub list: List,
}

/// Lists longer than this flow into several columns (e.g. one row per CPU core).
const DENSE_FROM: usize = 7;

/// Label/value rows. A value that reads as a percentage ("12.3 %") gets a thin
/// bar behind it, so a column of per-core loads reads at a glance. A label or
/// value too wide for its row is cut by the stylesheet, ending in "…"; the
/// whole text stays in the DOM (for assistive technology) and its tooltip.
/// Rows that do not fit the card are counted under it ("+N more").
#[function_component]
pub fn ListView(props: &ListProps) -> Html {
    let rows = &props.list.rows;
    let dense = rows.len() >= DENSE_FROM;
    html! {
        <dl class={classes!("list", dense.then_some("list--dense"))} data-testid="widget-value">
            if rows.is_empty() {
                <div class="list-empty">{ "No rows" }</div>
            }
            { for rows.iter().map(|row| {
                let bar = percent_of(&row.value).map(|p| AttrValue::from(format!("{p:.1}%")));
                html! {
                    <div class="list-row">
                        if let Some(width) = bar {
                            <Placed class="list-bar" property="width" value={width} decorative=true />
                        }
                        <dt title={row.label.clone()} dir="auto">{ &row.label }</dt>
                        <dd title={row.value.clone()} dir="auto">{ &row.value }</dd>
                    </div>
                }
            }) }
        </dl>
    }
}

/// `"12.3 %"` or `"12.3%"` → `Some(12.3)`, clamped to 0..=100; anything else → `None`.
pub fn percent_of(value: &str) -> Option<f64> {
    let number = value.trim().strip_suffix('%')?.trim_end();
    let number = crate::format::parse_f64(number)?;
    number.is_finite().then(|| number.clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::percent_of;

    #[test]
    fn percent_values_are_recognised() {
        assert_eq!(percent_of("12.3 %"), Some(12.3));
        assert_eq!(percent_of("7%"), Some(7.0));
        assert_eq!(percent_of(" 140 % "), Some(100.0));
        assert_eq!(percent_of("1.2 GiB"), None);
        assert_eq!(percent_of("%"), None);
        assert_eq!(percent_of("0.52"), None);
    }
}
