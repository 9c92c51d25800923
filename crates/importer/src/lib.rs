//! Reading resident registers from CSV (UTF-8 or GB18030) and XLSX into parsed rows with per-row errors.
