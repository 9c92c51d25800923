//! The default plan: the "golden 24 hours" local-outbreak plan (本地疫情"黄金24小时"应急处置工作方案)
//! with the source story's 10 working groups. Deadlines follow the national practice of 2022
//! (`domain-rules.md` §2.4–2.7): on site in 2 h, core investigation in 4 h, risk areas published
//! in 5 h, close contacts transferred in 12 h, the designated area tested in 24 h, an initial
//! positive reported within 2 h, sampling points open within 2 h.

use super::plan::{GroupTemplate, Place, PlaceKind, Plan, PlanKey, TaskTemplate};
use crate::workforce::Team;

fn task(key: &str, title: &str, title_en: &str, hours: f64) -> TaskTemplate {
    TaskTemplate { key: key.into(), title: title.into(), title_en: title_en.into(), due_minutes: (hours * 60.0) as u32 }
}

fn group(key: &str, name: &str, name_en: &str, lead: &str, teams: &[Team], tasks: Vec<TaskTemplate>) -> GroupTemplate {
    GroupTemplate {
        key: key.into(),
        name: name.into(),
        name_en: name_en.into(),
        lead: lead.into(),
        lead_person: None,
        teams: teams.to_vec(),
        members: Vec::new(),
        tasks,
    }
}

/// The golden-24-hours plan as Bulwark ships it; a town edits and saves its own version.
pub fn golden_24_hours() -> Plan {
    use Team::*;
    Plan {
        key: PlanKey::parse("golden-24h").expect("a valid key"),
        title: "本地疫情“黄金24小时”应急处置工作方案".into(),
        title_en: "Local outbreak: golden 24 hours response plan".into(),
        assembly_minutes: 30,
        places: vec![
            Place { kind: PlaceKind::Headquarters, name: "镇应急指挥中心（总指挥部）".into() },
            Place { kind: PlaceKind::ForwardPost, name: "前线指挥部".into() },
        ],
        groups: vec![
            group(
                "coordination",
                "综合协调组",
                "Integrated coordination",
                "镇党委副书记",
                &[Cadre],
                vec![
                    task("assemble", "全体工作人员30分钟内集结完毕", "All staff assembled", 0.5),
                    task("set-up-command", "设立总指挥部和前线指挥部", "Headquarters and forward post set up", 1.0),
                    task("report-initial-positive", "向上级报告初筛阳性情况", "Initial positive reported upwards", 2.0),
                    task("daily-briefing", "汇总各组进展，形成当日工作简报", "Daily briefing compiled", 24.0),
                ],
            ),
            group(
                "tracing",
                "流调溯源组",
                "Epidemiological investigation and tracing",
                "镇卫生院院长",
                &[Cadre],
                vec![
                    task("on-site", "流调队伍到达现场", "Investigation team on site", 2.0),
                    task(
                        "core-investigation",
                        "完成核心流调，初筛密切接触者",
                        "Core investigation done, close contacts screened",
                        4.0,
                    ),
                    task("risk-areas", "划定并公布风险区域", "Risk areas drawn and published", 5.0),
                    task(
                        "full-investigation",
                        "完成流调报告，密接次密接全部落位",
                        "Investigation report, every contact located",
                        24.0,
                    ),
                ],
            ),
            group(
                "isolation-transfer",
                "隔离转运组",
                "Isolation and transfer",
                "分管副镇长",
                &[Cadre],
                vec![
                    task(
                        "control-residences",
                        "对相关人员居住场所实施管控",
                        "Residences of the people concerned under control",
                        2.0,
                    ),
                    task(
                        "transfer-contacts",
                        "密接、次密接转运至集中隔离场所",
                        "Close and secondary contacts transferred to isolation",
                        12.0,
                    ),
                ],
            ),
            group(
                "testing",
                "核酸检测组",
                "Nucleic-acid testing",
                "镇卫生院副院长",
                &[Cadre, Volunteer, Sampler],
                vec![
                    task("sampling-points", "设置核酸采样点并开放", "Sampling points set up and open", 2.0),
                    task("tubes-to-lab", "首批样本送达实验室", "First samples at the lab", 4.0),
                    task("area-tested", "完成划定区域全员核酸采样", "Designated area sampled", 24.0),
                ],
            ),
            group(
                "grid-control",
                "社区网格管控组",
                "Community and grid control",
                "各村（社区）党组织书记",
                &[GridWorker],
                vec![
                    task("door-knock", "开展敲门行动，发动群众参加核酸", "Door-knocking: every resident told", 6.0),
                    task("returnees", "排查登记来（返）人员", "Returnees registered", 24.0),
                ],
            ),
            group(
                "medical",
                "医疗救治组",
                "Medical treatment",
                "镇卫生院院长",
                &[Cadre],
                vec![
                    task("fever-clinic", "发热门诊和转诊通道就绪", "Fever clinic and referral ready", 4.0),
                    task(
                        "home-sampling",
                        "行动不便人员上门采样安排到位",
                        "Home sampling for people who cannot walk arranged",
                        12.0,
                    ),
                ],
            ),
            group(
                "supplies",
                "物资保障组",
                "Supplies",
                "分管副镇长",
                &[Cadre],
                vec![
                    task(
                        "protective-kit",
                        "防护物资、采样物资配送到各采样点",
                        "Protective and sampling supplies at every point",
                        2.0,
                    ),
                    task("isolation-supplies", "隔离场所生活物资保障", "Supplies for isolation sites", 12.0),
                ],
            ),
            group(
                "publicity",
                "宣传报道组",
                "Publicity",
                "宣传委员",
                &[Cadre],
                vec![
                    task("notice", "发布全员核酸检测通告", "Mass-testing notice published", 2.0),
                    task("opinion", "舆情监测与回应", "Public opinion watched and answered", 24.0),
                ],
            ),
            group(
                "security",
                "治安维稳组",
                "Security",
                "派出所所长",
                &[Cadre],
                vec![
                    task(
                        "scene-order",
                        "管控现场及采样点秩序维护",
                        "Order at the controlled site and sampling points",
                        2.0,
                    ),
                    task("highway-post", "高速路口卡口24小时值守", "Highway exit post staffed around the clock", 4.0),
                ],
            ),
            group(
                "disinfection",
                "环境消杀组",
                "Environmental disinfection",
                "分管副镇长",
                &[Cadre],
                vec![task(
                    "terminal-disinfection",
                    "涉疫场所终末消杀",
                    "Terminal disinfection of the places concerned",
                    12.0,
                )],
            ),
        ],
    }
}
