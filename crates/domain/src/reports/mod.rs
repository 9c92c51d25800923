//! Reports (报告): the daily report's figures, computed from what the other parts store.
//!
//! The report is written in the style of the source ("截至10月8日15时，全镇共完成28369人核酸检测
//! 采样工作"): figures as of a moment of one day, never later than now. Everything here is
//! arithmetic on plain inputs; wording, formats and storage live elsewhere.

mod daily;

pub use daily::{
    AssemblyFigures, CoverageLine, DailyFigures, DailyInput, DayWindow, GroupAssembly, PostFigures, ReportError,
    TaskFigures, TaskLine, TaskOutcome, TestingFigures, TestingInput, daily_figures, day_window,
};
