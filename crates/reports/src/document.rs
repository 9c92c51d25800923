//! The format-neutral report: what every renderer draws.

use serde::Serialize;

/// A report: a title block, then blocks in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// `zh-CN` or `en`: the renderers pick hyphenation and fonts by it.
    pub lang: String,
    pub title: String,
    pub subtitle: String,
    pub blocks: Vec<Block>,
    /// A line at the foot of every page (who generated it and when; "internal").
    pub footer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Heading {
        text: String,
    },
    Paragraph {
        text: String,
    },
    /// A paragraph set off from the rest: the report's headline figures.
    Lead {
        text: String,
    },
    Table(Table),
    Chart(BarChart),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    /// A last row set in bold (totals).
    pub total: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub title: String,
    pub align: Align,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    Left,
    Right,
}

/// Bars with a label under each; the renderers scale them to the largest value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarChart {
    pub title: String,
    pub labels: Vec<String>,
    pub values: Vec<u64>,
}

impl BarChart {
    pub fn max(&self) -> u64 {
        self.values.iter().copied().max().unwrap_or(0)
    }

    /// A value's bar as a whole percent of the tallest.
    pub fn percent(&self, value: &u64) -> u64 {
        (value * 100).checked_div(self.max()).unwrap_or(0)
    }
}
