//! Which column of a lab file holds what. Labs name their columns differently (条码号, 试管编号,
//! 样本编号, …), so the usual Chinese and English headers are recognised, and a lab whose headers
//! are not can have its own [`LabColumnMapping`] saved and reused.

use crate::ImportError;
use serde::{Deserialize, Serialize};

/// The fields of a lab result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabField {
    TubeCode,
    Result,
    CtOrf1ab,
    CtN,
    SampledAt,
    TestedAt,
    ReportedAt,
    Lab,
}

impl LabField {
    pub const ALL: [LabField; 8] = [
        LabField::TubeCode,
        LabField::Result,
        LabField::CtOrf1ab,
        LabField::CtN,
        LabField::SampledAt,
        LabField::TestedAt,
        LabField::ReportedAt,
        LabField::Lab,
    ];

    /// The English name, also accepted as a header.
    pub fn as_str(self) -> &'static str {
        match self {
            LabField::TubeCode => "tube_code",
            LabField::Result => "result",
            LabField::CtOrf1ab => "ct_orf1ab",
            LabField::CtN => "ct_n",
            LabField::SampledAt => "sampled_at",
            LabField::TestedAt => "tested_at",
            LabField::ReportedAt => "reported_at",
            LabField::Lab => "lab",
        }
    }

    /// The headers accepted for this field besides [`LabField::as_str`], Chinese first; the first
    /// one is what a template should use. Ct headers are also recognised by their shape, see
    /// [`LabField::from_header`].
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            LabField::TubeCode => &[
                "条码号",
                "条码",
                "试管编号",
                "试管条码",
                "样本编号",
                "样本条码",
                "标本条码",
                "采样管编码",
                "采样管编号",
                "采样管条码",
                "管码",
                "barcode",
                "tube",
            ],
            LabField::Result => &["检测结果", "结果", "结论", "检测结论", "核酸结果", "核酸检测结果", "outcome"],
            LabField::CtOrf1ab => &["ORF1ab基因Ct值", "ORF1ab", "CT值"],
            LabField::CtN => &["N基因Ct值", "N"],
            LabField::SampledAt => &["采样时间", "sample_time", "sampling_time"],
            LabField::TestedAt => &["检测时间", "检验时间", "test_time"],
            LabField::ReportedAt => &["报告时间", "审核时间", "report_time"],
            LabField::Lab => &["检测机构", "实验室", "检测单位", "检测实验室", "lab_name", "laboratory"],
        }
    }

    /// `条码号 (tube_code)`: how a missing column is named to the user.
    pub(crate) fn describe(self) -> String {
        format!("{} ({})", self.aliases()[0], self.as_str())
    }

    /// The field a header names, if any. Besides the aliases, a Ct column is recognised by its
    /// gene with `Ct`, `Ct值` or `基因` before or after it (`ORF1ab Ct`, `CT值（N）`, `N基因Ct`),
    /// and a lone `CT值` or `Ct` is the ORF1ab value.
    pub fn from_header(header: &str) -> Option<LabField> {
        let key = normalise(header);
        if key.is_empty() {
            return None;
        }
        if let Some(field) = LabField::ALL
            .into_iter()
            .find(|f| normalise(f.as_str()) == key || f.aliases().iter().any(|a| normalise(a) == key))
        {
            return Some(field);
        }
        ct_gene(&key)
    }
}

/// `ct值orf1ab`, `orf1ab基因ct`, `nct值`, `ctvalue`: the Ct column of a gene, by its shape.
fn ct_gene(key: &str) -> Option<LabField> {
    if matches!(key, "ct" | "ct值" | "ctvalue") {
        return Some(LabField::CtOrf1ab);
    }
    let mut gene = key;
    for prefix in ["ct值", "ct"] {
        if let Some(rest) = gene.strip_prefix(prefix) {
            gene = rest;
            break;
        }
    }
    for suffix in ["ct值", "ctvalue", "ct", "值"] {
        if let Some(rest) = gene.strip_suffix(suffix) {
            gene = rest;
            break;
        }
    }
    let gene = gene.strip_suffix("基因").or_else(|| gene.strip_suffix("gene")).unwrap_or(gene);
    if gene.len() == key.len() {
        // Neither Ct nor 基因 around it: only the bare gene names among the aliases count.
        return None;
    }
    match gene {
        "orf1ab" | "orf1a" | "orf" => Some(LabField::CtOrf1ab),
        "n" => Some(LabField::CtN),
        _ => None,
    }
}

/// `" ORF1ab（Ct值）* "` → `"orf1abct值"`: full-width letters, digits and punctuation folded to
/// their ASCII forms, brackets, spaces, `_`, `-` and a trailing required-marker `*` dropped, and
/// letters lower-cased.
pub(crate) fn normalise(header: &str) -> String {
    header
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '【' => '[',
            '】' => ']',
            c => c,
        })
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '\u{feff}' | '(' | ')' | '[' | ']'))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim_end_matches('*')
        .to_string()
}

/// Which header holds each field of a lab file: detected from the headers, or saved for a lab
/// whose headers are not recognised, and stored as JSON.
///
/// Headers are written as the file has them (`"管号"`); they are matched ignoring case, spaces,
/// brackets and full-width forms. A mapping that names a header the file does not have refuses
/// the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabColumnMapping {
    pub tube_code: String,
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct_orf1ab: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct_n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tested_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<String>,
}

impl LabColumnMapping {
    /// Recognises the usual headers (see [`LabField::aliases`]). Refuses the file when the tube
    /// code or the result column is missing, or when two columns mean the same field.
    pub fn detect(headers: &[String]) -> Result<LabColumnMapping, ImportError> {
        let mut found: [Option<&String>; LabField::ALL.len()] = [None; LabField::ALL.len()];
        for header in headers {
            let Some(field) = LabField::from_header(header) else { continue };
            if let Some(first) = found[field as usize] {
                return Err(ImportError::DuplicateColumn {
                    field: field.as_str(),
                    first: first.clone(),
                    second: header.clone(),
                });
            }
            found[field as usize] = Some(header);
        }
        let header = |field: LabField| found[field as usize].cloned();
        match (header(LabField::TubeCode), header(LabField::Result)) {
            (Some(tube_code), Some(result)) => Ok(LabColumnMapping {
                tube_code,
                result,
                ct_orf1ab: header(LabField::CtOrf1ab),
                ct_n: header(LabField::CtN),
                sampled_at: header(LabField::SampledAt),
                tested_at: header(LabField::TestedAt),
                reported_at: header(LabField::ReportedAt),
                lab: header(LabField::Lab),
            }),
            (tube_code, result) => {
                let missing = [(LabField::TubeCode, tube_code), (LabField::Result, result)]
                    .into_iter()
                    .filter(|(_, h)| h.is_none())
                    .map(|(f, _)| f.describe())
                    .collect();
                Err(missing_columns(missing, headers))
            }
        }
    }

    /// The header this mapping gives `field`, if any.
    pub fn header(&self, field: LabField) -> Option<&str> {
        match field {
            LabField::TubeCode => Some(&self.tube_code),
            LabField::Result => Some(&self.result),
            LabField::CtOrf1ab => self.ct_orf1ab.as_deref(),
            LabField::CtN => self.ct_n.as_deref(),
            LabField::SampledAt => self.sampled_at.as_deref(),
            LabField::TestedAt => self.tested_at.as_deref(),
            LabField::ReportedAt => self.reported_at.as_deref(),
            LabField::Lab => self.lab.as_deref(),
        }
    }

    /// The column of each field in a file with `headers`: a header written exactly as in the
    /// mapping first, else one that matches it once normalised. Every header the mapping names
    /// must be there.
    pub(crate) fn positions(&self, headers: &[String]) -> Result<LabColumns, ImportError> {
        let mut positions = [None; LabField::ALL.len()];
        let mut missing = Vec::new();
        for field in LabField::ALL {
            let Some(wanted) = self.header(field) else { continue };
            let key = normalise(wanted);
            // A name that is empty, or empty once normalised (`*`), would match a column without
            // a header.
            let index = if wanted.trim().is_empty() {
                None
            } else if key.is_empty() {
                headers.iter().position(|h| h == wanted.trim())
            } else {
                headers
                    .iter()
                    .position(|h| h == wanted.trim())
                    .or_else(|| headers.iter().position(|h| normalise(h) == key))
            };
            match index {
                Some(index) => positions[field as usize] = Some(index),
                None => missing.push(format!("\"{wanted}\", which the column mapping names for {}", field.as_str())),
            }
        }
        if !missing.is_empty() {
            return Err(missing_columns(missing, headers));
        }
        let ignored = headers
            .iter()
            .enumerate()
            .filter(|(i, h)| !h.is_empty() && !positions.contains(&Some(*i)))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(LabColumns { positions, ignored })
    }
}

fn missing_columns(missing: Vec<String>, headers: &[String]) -> ImportError {
    let found = headers.iter().filter(|h| !h.is_empty()).cloned().collect();
    ImportError::MissingColumns { missing, found }
}

/// Where each field of a lab file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabColumns {
    positions: [Option<usize>; LabField::ALL.len()],
    /// Headers that no field uses.
    pub(crate) ignored: Vec<String>,
}

impl LabColumns {
    pub(crate) fn get(&self, field: LabField) -> Option<usize> {
        self.positions[field as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_labs_write() {
        use LabField::*;
        for (header, field) in [
            ("条码号", TubeCode),
            ("试管编号", TubeCode),
            ("样本编号", TubeCode),
            ("采样管编码", TubeCode),
            ("管码", TubeCode),
            ("标本条码", TubeCode),
            ("Tube_Code", TubeCode),
            ("BARCODE", TubeCode),
            ("检测结果", Result),
            ("结果", Result),
            ("结论*", Result),
            ("Result", Result),
            ("ORF1ab", CtOrf1ab),
            ("ORF1ab Ct", CtOrf1ab),
            ("ORF1ab基因Ct值", CtOrf1ab),
            ("CT值(ORF1ab)", CtOrf1ab),
            ("CT值（ORF1ab）", CtOrf1ab),
            ("Ct值 【ORF1ab】", CtOrf1ab),
            ("ORF1ab-CT", CtOrf1ab),
            ("ct_orf1ab", CtOrf1ab),
            ("CT值", CtOrf1ab),
            ("Ct", CtOrf1ab),
            ("N", CtN),
            ("N基因", CtN),
            ("N Ct", CtN),
            ("CT值(N)", CtN),
            ("CT值（N）", CtN),
            ("N基因Ct值", CtN),
            ("ｃｔ_ｎ", CtN),
            ("采样时间", SampledAt),
            ("检测时间", TestedAt),
            ("检验时间", TestedAt),
            ("报告时间", ReportedAt),
            ("审核时间", ReportedAt),
            ("检测机构", Lab),
            ("实验室", Lab),
            ("检测单位", Lab),
            ("LAB", Lab),
        ] {
            assert_eq!(LabField::from_header(header), Some(field), "{header}");
        }
        for other in ["姓名", "身份证号", "E基因", "内标Ct", "CT值(E)", "送检时间", "", "*", "ORF1ab基因E", "基因"]
        {
            assert_eq!(LabField::from_header(other), None, "{other}");
        }
    }

    #[test]
    fn every_alias_names_exactly_its_field() {
        for field in LabField::ALL {
            for alias in field.aliases().iter().chain([&field.as_str()]) {
                assert_eq!(LabField::from_header(alias), Some(field), "{alias}");
            }
        }
    }

    #[test]
    fn detection_needs_a_tube_and_a_result() {
        let mapping =
            LabColumnMapping::detect(&headers(&["序号", "条码号", "姓名", "检测结果", "CT值", "报告时间"])).unwrap();
        assert_eq!(mapping.tube_code, "条码号");
        assert_eq!(mapping.result, "检测结果");
        assert_eq!(mapping.ct_orf1ab.as_deref(), Some("CT值"));
        assert_eq!(mapping.ct_n, None);
        assert_eq!(mapping.reported_at.as_deref(), Some("报告时间"));
        let err = LabColumnMapping::detect(&headers(&["管号", "判定"])).unwrap_err();
        let message = err.to_string();
        for expected in ["条码号 (tube_code)", "检测结果 (result)", "管号, 判定"] {
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let err = LabColumnMapping::detect(&headers(&["条码号", "样本编号", "结果"])).unwrap_err();
        assert_eq!(
            err,
            ImportError::DuplicateColumn {
                field: "tube_code", first: "条码号".into(), second: "样本编号".into()
            }
        );
    }

    #[test]
    fn a_mapping_finds_its_headers_or_names_what_is_missing() {
        let mapping = LabColumnMapping {
            tube_code: "管号".into(),
            result: "判定".into(),
            ct_orf1ab: None,
            ct_n: None,
            sampled_at: Some("采集 时间".into()),
            tested_at: None,
            reported_at: None,
            lab: Some("送检单位".into()),
        };
        let file = headers(&["判定", "管号", "采集时间", "备注"]);
        let err = mapping.positions(&file).unwrap_err();
        assert!(err.to_string().contains("\"送检单位\", which the column mapping names for lab"), "{err}");
        let unnamed = LabColumnMapping { tube_code: " ".into(), lab: None, ..mapping.clone() };
        let err = unnamed.positions(&headers(&["判定", "", "管号"])).unwrap_err();
        assert!(err.to_string().contains("\" \", which the column mapping names for tube_code"), "{err}");
        let starred = LabColumnMapping { tube_code: "*".into(), ..unnamed };
        assert!(starred.positions(&headers(&["判定", "", "管号"])).is_err());
        let mapping = LabColumnMapping { lab: None, ..mapping };
        let columns = mapping.positions(&file).unwrap();
        assert_eq!(columns.get(LabField::TubeCode), Some(1));
        assert_eq!(columns.get(LabField::Result), Some(0));
        assert_eq!(columns.get(LabField::SampledAt), Some(2));
        assert_eq!(columns.get(LabField::Lab), None);
        assert_eq!(columns.ignored, ["备注"]);
    }
}
