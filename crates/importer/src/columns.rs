//! Which column of a register holds what: headers in Chinese or English, matched regardless of
//! case, spaces, `_`/`-` and a trailing required-marker `*`.

use crate::ImportError;

/// The fields a resident register can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    IdNumber,
    DocumentType,
    DocumentNumber,
    Phone,
    Address,
    Grid,
    Household,
    CannotWalk,
    Bedridden,
    OtherNeeds,
    Sex,
    BirthDate,
}

impl Field {
    pub const ALL: [Field; 13] = [
        Field::Name,
        Field::IdNumber,
        Field::DocumentType,
        Field::DocumentNumber,
        Field::Phone,
        Field::Address,
        Field::Grid,
        Field::Household,
        Field::CannotWalk,
        Field::Bedridden,
        Field::OtherNeeds,
        Field::Sex,
        Field::BirthDate,
    ];

    /// The English name, also accepted as a header.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::IdNumber => "id_number",
            Field::DocumentType => "document_type",
            Field::DocumentNumber => "document_number",
            Field::Phone => "phone",
            Field::Address => "address",
            Field::Grid => "grid",
            Field::Household => "household",
            Field::CannotWalk => "cannot_walk",
            Field::Bedridden => "bedridden",
            Field::OtherNeeds => "other_needs",
            Field::Sex => "sex",
            Field::BirthDate => "birth_date",
        }
    }

    /// The headers accepted for this field besides [`Field::as_str`], Chinese first; the first
    /// one is what a template should use.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &["姓名"],
            Field::IdNumber => &["身份证号", "身份证号码", "公民身份号码", "身份证"],
            Field::DocumentType => &["证件类型"],
            Field::DocumentNumber => &["证件号码", "证件号"],
            Field::Phone => &["电话", "手机", "手机号", "手机号码", "联系电话", "mobile", "tel"],
            Field::Address => &["地址", "住址", "现住址"],
            Field::Grid => &["网格", "网格编码", "grid_code"],
            Field::Household => &["户号", "户编码", "household_code"],
            Field::CannotWalk => &["行动不便"],
            Field::Bedridden => &["卧床"],
            Field::OtherNeeds => &["其他需求", "备注", "notes"],
            Field::Sex => &["性别", "gender"],
            Field::BirthDate => &["出生日期", "date_of_birth"],
        }
    }

    /// `姓名 (name)`: how a missing column is named to the user.
    fn describe(self) -> String {
        format!("{} ({})", self.aliases()[0], self.as_str())
    }

    /// The field a header names, if any.
    pub fn from_header(header: &str) -> Option<Field> {
        let key = normalise(header);
        if key.is_empty() {
            return None;
        }
        Field::ALL.into_iter().find(|f| normalise(f.as_str()) == key || f.aliases().iter().any(|a| normalise(a) == key))
    }
}

/// `" ID_Number* "` → `"idnumber"`.
fn normalise(header: &str) -> String {
    header
        .trim()
        .trim_end_matches(['*', '＊'])
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '\u{feff}'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each known field is, and which headers were not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    positions: [Option<usize>; Field::ALL.len()],
    pub(crate) ignored: Vec<String>,
}

impl ColumnMap {
    /// Maps the headers, refusing a file that lacks a required column or names a field twice.
    /// Required: the name; an ID number column or a document type and number pair; a grid or a
    /// household column.
    pub(crate) fn new(headers: &[String]) -> Result<ColumnMap, ImportError> {
        let mut map = ColumnMap { positions: [None; Field::ALL.len()], ignored: Vec::new() };
        for (index, header) in headers.iter().enumerate() {
            match Field::from_header(header) {
                Some(field) => {
                    if let Some(first) = map.get(field) {
                        return Err(ImportError::DuplicateColumn {
                            field: field.as_str(),
                            first: headers[first].clone(),
                            second: header.clone(),
                        });
                    }
                    map.positions[field as usize] = Some(index);
                }
                None if header.is_empty() => {}
                None => map.ignored.push(header.clone()),
            }
        }
        let has = |f| map.get(f).is_some();
        let mut missing = Vec::new();
        if !has(Field::Name) {
            missing.push(Field::Name.describe());
        }
        let has_document = has(Field::IdNumber) || (has(Field::DocumentType) && has(Field::DocumentNumber));
        if !has_document {
            missing.push(format!(
                "{}, or {} with {}",
                Field::IdNumber.describe(),
                Field::DocumentType.describe(),
                Field::DocumentNumber.describe()
            ));
        }
        if !has(Field::Grid) && !has(Field::Household) {
            missing.push(format!("{} or {}", Field::Grid.describe(), Field::Household.describe()));
        }
        if missing.is_empty() {
            Ok(map)
        } else {
            let found = headers.iter().filter(|h| !h.is_empty()).cloned().collect();
            Err(ImportError::MissingColumns { missing, found })
        }
    }

    /// The column index of `field`, if the file has it.
    pub(crate) fn get(&self, field: Field) -> Option<usize> {
        self.positions[field as usize]
    }

    /// Each field the file has, with its header as it appears in the file.
    pub(crate) fn headers(&self, headers: &[String]) -> Vec<(Field, String)> {
        Field::ALL.into_iter().filter_map(|f| Some((f, headers[self.get(f)?].clone()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aliases_in_either_language_and_any_case() {
        for (header, field) in [
            ("姓名", Field::Name),
            (" Name ", Field::Name),
            ("身份证号码*", Field::IdNumber),
            ("ID Number", Field::IdNumber),
            ("id-number", Field::IdNumber),
            ("公民身份号码", Field::IdNumber),
            ("联系 电话", Field::Phone),
            ("Other_Needs", Field::OtherNeeds),
            ("备注", Field::OtherNeeds),
            ("网格编码", Field::Grid),
            ("HOUSEHOLD", Field::Household),
            ("出生日期", Field::BirthDate),
        ] {
            assert_eq!(Field::from_header(header), Some(field), "{header}");
        }
        assert_eq!(Field::from_header("民族"), None);
        assert_eq!(Field::from_header("*"), None);
    }

    #[test]
    fn every_alias_names_exactly_one_field() {
        for field in Field::ALL {
            for alias in field.aliases().iter().chain([&field.as_str()]) {
                assert_eq!(Field::from_header(alias), Some(field), "{alias}");
            }
        }
    }

    #[test]
    fn unknown_columns_are_listed() {
        let map = ColumnMap::new(&headers(&["序号", "姓名", "身份证号", "", "网格", "民族"])).unwrap();
        assert_eq!(map.ignored, ["序号", "民族"]);
        assert_eq!(map.get(Field::Grid), Some(4));
        assert_eq!(map.get(Field::Phone), None);
    }

    #[test]
    fn document_pair_replaces_the_id_column() {
        assert!(ColumnMap::new(&headers(&["姓名", "证件类型", "证件号码", "户号"])).is_ok());
        let err = ColumnMap::new(&headers(&["姓名", "证件号码", "户号"])).unwrap_err();
        let ImportError::MissingColumns { missing, found } = err else { panic!("{err:?}") };
        assert_eq!(missing, ["身份证号 (id_number), or 证件类型 (document_type) with 证件号码 (document_number)"]);
        assert_eq!(found, ["姓名", "证件号码", "户号"]);
    }

    #[test]
    fn missing_columns_are_all_named() {
        let err = ColumnMap::new(&headers(&["编号", "电话"])).unwrap_err();
        let message = err.to_string();
        for expected in ["姓名 (name)", "身份证号 (id_number)", "网格 (grid) or 户号 (household)", "编号, 电话"]
        {
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn a_field_twice_is_refused() {
        let err = ColumnMap::new(&headers(&["姓名", "手机", "身份证号", "电话", "网格"])).unwrap_err();
        assert_eq!(err, ImportError::DuplicateColumn { field: "phone", first: "手机".into(), second: "电话".into() });
    }
}
