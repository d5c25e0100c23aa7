//! A series: named lines of timed points, of which each line keeps a window.
//! A body appends points; the hub trims each line to the window.

use indexmap::IndexMap;
use protocol::{Point, Series, SeriesLine, WidgetValue, DEFAULT_SERIES_WINDOW};
use serde::Deserialize;
use utoipa::ToSchema;

use super::change::{keep, Conflict};
use super::{check_chars, check_len, limits, FieldError, Omitted};

/// Points to append: `{"lines": {"orders": [[t, v], v, ...]}}`, or for one line
/// named `value`, `{"points": [...]}` or `{"value": v}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesBody {
    /// Points per line name; a point is `[t, v]` (t in ms since 1970) or a
    /// bare number, stamped with the server's time.
    #[schema(value_type = Option<HashMap<String, Vec<Object>>>)]
    lines: Option<IndexMap<String, Vec<PointBody>>>,
    /// Points of one line named `value`.
    #[schema(value_type = Option<Vec<Object>>)]
    points: Option<Vec<PointBody>>,
    /// One point, now, on a line named `value`.
    value: Option<f64>,
    unit: Option<String>,
    /// Points each line keeps (default 600).
    window: Option<usize>,
}

impl SeriesBody {
    pub(super) fn into_value(self, now: i64) -> Result<(WidgetValue, Omitted), FieldError> {
        let omitted = Omitted {
            unit: self.unit.is_none(),
            window: self.window.is_none(),
            ..Omitted::default()
        };
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        let window = self.window.unwrap_or(DEFAULT_SERIES_WINDOW);
        if !(2..=limits::SERIES_WINDOW).contains(&window) {
            return Err(FieldError::new(
                "window",
                format!("must be 2 to {} points", limits::SERIES_WINDOW),
            ));
        }
        // Where each line came from, for errors: `lines.<name>` or `points`.
        let (lines, shorthand) = match (self.lines, self.points, self.value) {
            (Some(lines), None, None) => (lines, None),
            (None, Some(points), None) => (
                IndexMap::from([("value".to_owned(), points)]),
                Some("points"),
            ),
            (None, None, Some(value)) => (
                IndexMap::from([("value".to_owned(), vec![PointBody::Now(value)])]),
                Some("value"),
            ),
            _ => {
                return Err(FieldError::new(
                    "lines",
                    "give exactly one of `lines`, `points` or `value`",
                ))
            }
        };
        if lines.is_empty() || lines.len() > limits::SERIES_LINES {
            return Err(FieldError::new(
                "lines",
                format!("must hold 1 to {} lines", limits::SERIES_LINES),
            ));
        }
        let lines = lines
            .into_iter()
            .map(|(name, points)| {
                let field = shorthand.map_or_else(|| format!("lines.{name}"), str::to_owned);
                if name.is_empty() || name.chars().count() > limits::LINE_NAME_CHARS {
                    return Err(FieldError::new(
                        field,
                        format!(
                            "a line name must be 1 to {} characters",
                            limits::LINE_NAME_CHARS
                        ),
                    ));
                }
                // Without `window`, the widget's own applies; the hub trims to it.
                let most = if omitted.window {
                    limits::SERIES_WINDOW
                } else {
                    window
                };
                check_len(&field, &points, 1, most)?;
                let points = points
                    .into_iter()
                    .enumerate()
                    .map(|(i, point)| {
                        point
                            .at(now)
                            .map_err(|p| FieldError::new(format!("{field}[{i}]"), p))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(SeriesLine { name, points })
            })
            .collect::<Result<_, _>>()?;
        let value = WidgetValue::Series(Series {
            lines,
            window,
            unit: self.unit,
        });
        Ok((value, omitted))
    }
}

/// A series point: `[t, v]` with `t` in milliseconds since the Unix epoch, or
/// a bare `v`, stamped with the time the server accepted it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointBody {
    At(f64, f64),
    Now(f64),
}

/// Latest time a point may carry: the end of year 9999.
const MAX_TIME_MS: f64 = 253_402_300_799_999.0;

impl PointBody {
    fn at(self, now: i64) -> Result<Point, String> {
        match self {
            PointBody::Now(v) => Ok(Point(now, v)),
            PointBody::At(t, v) if (0.0..=MAX_TIME_MS).contains(&t) => Ok(Point(t as i64, v)),
            PointBody::At(..) => {
                Err("the time must be milliseconds since 1970 (0 to 253402300799999)".to_owned())
            }
        }
    }
}

impl<'de> Deserialize<'de> for PointBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PointBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a point: [t, v] or a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v as f64))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PointBody, A::Error> {
                use serde::de::Error;
                let t: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let v: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(PointBody::At(t, v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The unit and window left out keep the widget's own. The lines a body
/// names are added to the widget's, so together they must stay within
/// [`limits::SERIES_LINES`], which the body alone cannot tell.
pub(super) fn keep_settings(
    new: &mut Series,
    old: &Series,
    omitted: Omitted,
) -> Result<(), Conflict> {
    keep(omitted.unit, &mut new.unit, &old.unit);
    keep(omitted.window, &mut new.window, &old.window);
    let added = new
        .lines
        .iter()
        .filter(|line| !old.lines.iter().any(|l| l.name == line.name))
        .count();
    if old.lines.len() + added > limits::SERIES_LINES {
        return Err(Conflict {
            item: 0,
            field: "lines",
            problem: format!(
                "the series would have more than {} lines (it has {})",
                limits::SERIES_LINES,
                old.lines.len()
            ),
        });
    }
    Ok(())
}
