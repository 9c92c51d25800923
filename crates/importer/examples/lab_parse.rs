//! Lab-file parsing benchmark: one Shanghai day of results (2.43 M tubes on 4 April 2022, rounded
//! up to 2,500,000 rows) as UTF-8 CSV, read with `read_table` and parsed with
//! `parse_lab_results`, printing rows per second.
//!
//! `read_table` refuses a file over 20 MiB or 200,000 rows, so the day comes as the files a lab
//! would send, each filled up to those limits. Generating the files is not timed.
//!
//! Run: `cargo run --release -p bulwark-importer --example lab_parse [rows]`

use bulwark_domain::testing::TubeFormat;
use bulwark_importer::{LabColumnMapping, MAX_FILE_BYTES, MAX_ROWS, parse_lab_results, read_table};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const HEADER: &str = "条码号,检测结果,CT值(ORF1ab),CT值(N),采样时间,检测时间,报告时间,检测机构\r\n";

const LABS: [&str; 8] = [
    "上海市疾病预防控制中心",
    "复旦大学附属华山医院检验科",
    "上海交通大学医学院附属瑞金医院",
    "上海金域医学检验所",
    "上海迪安医学检验所",
    "上海达安医学检验所",
    "上海市浦东新区疾病预防控制中心",
    "上海华大医学检验所",
];

/// xorshift64*: deterministic and dependency-free.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `2022-04-04 08:15:30` for `seconds` after midnight of 4 April 2022 (later days roll over).
fn time(line: &mut String, seconds: u64) {
    let day = 4 + seconds / 86_400;
    let s = seconds % 86_400;
    let _ = write!(line, "2022-04-{day:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

/// One CSV line for tube number `n`.
fn row(line: &mut String, n: u64, random: &mut Random) {
    line.clear();
    let _ = write!(line, "SH20220404{n:08},");
    let roll = random.below(10_000);
    let (outcome, cts) = match roll {
        0..=4 => ("阳性", Some((18 + random.below(17), 20 + random.below(15)))),
        5..=19 => ("可疑", Some((35 + random.below(4), 36 + random.below(4)))),
        20..=24 => ("无效", None),
        _ => ("阴性", None),
    };
    line.push_str(outcome);
    match cts {
        Some((orf1ab, n_gene)) => {
            let _ = write!(line, ",{orf1ab}.{},{n_gene}.{},", random.below(100), random.below(100));
        }
        None => line.push_str(",—,—,"),
    }
    let sampled = 6 * 3600 + random.below(14 * 3600);
    let tested = sampled + 3600 + random.below(6 * 3600);
    let reported = tested + 600 + random.below(3600);
    time(line, sampled);
    line.push(',');
    time(line, tested);
    line.push(',');
    time(line, reported);
    line.push(',');
    line.push_str(LABS[(n % LABS.len() as u64) as usize]);
    line.push_str("\r\n");
}

/// The day's results as CSV files within `read_table`'s limits.
fn generate(rows: u64) -> Vec<Vec<u8>> {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut files = Vec::new();
    let mut file = HEADER.as_bytes().to_vec();
    let mut in_file = 0;
    let mut line = String::new();
    for n in 0..rows {
        row(&mut line, n, &mut random);
        if in_file == MAX_ROWS || file.len() + line.len() > MAX_FILE_BYTES {
            files.push(std::mem::replace(&mut file, HEADER.as_bytes().to_vec()));
            in_file = 0;
        }
        file.extend_from_slice(line.as_bytes());
        in_file += 1;
    }
    files.push(file);
    files
}

fn per_second(rows: usize, time: Duration) -> String {
    format!("{:.0} rows/s", rows as f64 / time.as_secs_f64())
}

fn main() {
    let rows: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_500_000);
    let files = generate(rows);
    let bytes: usize = files.iter().map(Vec::len).sum();
    println!("{rows} rows in {} CSV files, {:.1} MiB", files.len(), bytes as f64 / (1024.0 * 1024.0));

    let format = TubeFormat::default();
    let (mut read, mut parse) = (Duration::ZERO, Duration::ZERO);
    let (mut results, mut rejected, mut total) = (0, 0, 0);
    for file in &files {
        let start = Instant::now();
        let table = read_table(file).expect("the generated file is within the limits");
        read += start.elapsed();

        let start = Instant::now();
        let mapping = LabColumnMapping::detect(&table.headers).expect("the headers are the usual ones");
        let parsed = parse_lab_results(&table, &mapping, &format).expect("the mapping fits");
        parse += start.elapsed();

        results += parsed.results.len();
        rejected += parsed.rejected_rows();
        total += parsed.total_rows;
        // Freeing a 200,000-row table and its results takes time too.
        let start = Instant::now();
        drop(table);
        read += start.elapsed();
        let start = Instant::now();
        drop(parsed);
        parse += start.elapsed();
    }
    assert_eq!(total as u64, rows);
    assert_eq!((results, rejected), (total, 0), "the generated rows are all valid");

    println!("read_table:        {:>6.2} s  {}", read.as_secs_f64(), per_second(total, read));
    println!("parse_lab_results: {:>6.2} s  {}", parse.as_secs_f64(), per_second(total, parse));
    println!("both:              {:>6.2} s  {}", (read + parse).as_secs_f64(), per_second(total, read + parse));
}
