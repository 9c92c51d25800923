//! Synthetic names: Jiangmen-area (四邑) surnames, given names whose style follows the decade of
//! birth, and the labels of hamlets and streets used in house addresses. Every combination is
//! made up; any likeness to a real person or place is a coincidence.

use crate::dice::{Weights, pick, range, ratio};
use bulwark_domain::{areas::AreaKind, people::Sex};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Surnames common in Enping and the neighbouring 四邑 counties, with rough weights. 司徒 and 区
/// are characteristic of the area.
pub const SURNAMES: [(&str, u32); 24] = [
    ("吴", 14),
    ("梁", 14),
    ("郑", 10),
    ("冯", 9),
    ("陈", 8),
    ("李", 7),
    ("黄", 7),
    ("岑", 6),
    ("何", 5),
    ("甘", 4),
    ("谭", 4),
    ("张", 3),
    ("刘", 3),
    ("司徒", 2),
    ("胡", 2),
    ("关", 2),
    ("杨", 2),
    ("林", 2),
    ("余", 2),
    ("区", 1),
    ("麦", 1),
    ("冼", 1),
    ("邓", 1),
    ("周", 1),
];

/// Extra weight of the two "clan" surnames of each village: villages in the area are often
/// dominated by one or two lineages. Which surnames they are is drawn at random: synthetic.
const CLAN_WEIGHT: u32 = 40;

/// The surname weights used in one unit: the base weights, with two clan surnames boosted in
/// villages (the town-centre community is mixed).
pub fn unit_surname_weights(rng: &mut ChaCha8Rng, kind: AreaKind) -> Weights {
    let mut weights: Vec<u32> = SURNAMES.iter().map(|(_, w)| *w).collect();
    if kind == AreaKind::Village {
        // Clans come from the ten most common surnames.
        let first = range(rng, 0, 9) as usize;
        let mut second = range(rng, 0, 8) as usize;
        if second >= first {
            second += 1;
        }
        weights[first] += CLAN_WEIGHT;
        weights[second] += CLAN_WEIGHT / 2;
    }
    Weights::new(&weights)
}

/// Given-name characters: (first, second) pools per era and sex.
struct Pools {
    first: &'static [&'static str],
    second: &'static [&'static str],
}

const MALE_OLD: Pools = Pools {
    first: &[
        "国", "永", "炳", "锦", "荣", "志", "德", "家", "金", "汉", "灿", "培", "耀", "桂", "少", "福", "树", "振",
        "满", "社",
    ],
    second: &[
        "明", "华", "昌", "祥", "才", "生", "发", "泉", "棠", "林", "成", "根", "添", "全", "光", "胜", "元", "坤",
        "池", "源",
    ],
};
const FEMALE_OLD: Pools = Pools {
    first: &[
        "秀", "桂", "月", "凤", "玉", "美", "惠", "彩", "燕", "瑞", "金", "银", "亚", "带", "细", "群", "润", "爱",
        "少", "兰",
    ],
    second: &[
        "娣", "英", "兰", "芳", "珍", "好", "娇", "娟", "霞", "琼", "莲", "卿", "容", "好", "妹", "仙", "喜", "女",
        "有", "梅",
    ],
};
const MALE_MID: Pools = Pools {
    first: &[
        "志", "伟", "建", "国", "俊", "永", "家", "嘉", "文", "锦", "少", "浩", "振", "耀", "卫", "海", "健", "展",
        "立", "冠",
    ],
    second: &[
        "明", "强", "华", "荣", "辉", "军", "杰", "文", "雄", "鹏", "成", "平", "良", "忠", "波", "斌", "勇", "峰",
        "东", "权",
    ],
};
const FEMALE_MID: Pools = Pools {
    first: &[
        "丽", "美", "秀", "小", "惠", "嘉", "雪", "艳", "淑", "翠", "碧", "少", "玉", "晓", "宝", "丽", "凤", "婉",
        "素", "慧",
    ],
    second: &[
        "芳", "娟", "玲", "琴", "霞", "萍", "红", "燕", "敏", "仪", "珊", "虹", "君", "娴", "玲", "莹", "洁", "英",
        "贞", "华",
    ],
};
const MALE_YOUNG: Pools = Pools {
    first: &[
        "子", "梓", "浩", "俊", "嘉", "宇", "泽", "志", "家", "锦", "铭", "皓", "骏", "晨", "博", "煜", "睿", "宏",
        "智", "宸",
    ],
    second: &[
        "轩", "豪", "然", "涛", "杰", "航", "文", "宇", "霖", "熙", "乐", "睿", "恒", "朗", "彬", "阳", "瀚", "晖",
        "源", "信",
    ],
};
const FEMALE_YOUNG: Pools = Pools {
    first: &[
        "梓", "欣", "诗", "雨", "嘉", "紫", "晓", "思", "静", "佩", "芷", "可", "雅", "颖", "婉", "心", "乐", "锦",
        "语", "若",
    ],
    second: &[
        "涵", "怡", "琪", "婷", "彤", "萱", "妍", "悦", "琳", "颖", "晴", "桐", "瑶", "琦", "儿", "希", "蓉", "诺",
        "淇", "宁",
    ],
};

/// A synthetic full name for a person of `sex` born in `birth_year`, with the given surname.
pub fn full_name(rng: &mut ChaCha8Rng, surname: &str, sex: Sex, birth_year: i32) -> String {
    let pools = match (sex, birth_year) {
        (Sex::Male, ..1960) => &MALE_OLD,
        (Sex::Female, ..1960) => &FEMALE_OLD,
        (Sex::Male, ..1990) => &MALE_MID,
        (Sex::Female, ..1990) => &FEMALE_MID,
        (Sex::Male, _) => &MALE_YOUNG,
        (Sex::Female, _) => &FEMALE_YOUNG,
    };
    let second = *pick(rng, pools.second);
    // About one in eight has a one-character given name (never with a compound surname).
    if surname.chars().count() == 1 && ratio(rng, 1, 8) {
        return format!("{surname}{second}");
    }
    let mut first = *pick(rng, pools.first);
    while first == second {
        first = *pick(rng, pools.first);
    }
    format!("{surname}{first}{second}")
}

const HAMLET_HEAD: [&str; 24] = [
    "上", "下", "东", "西", "南", "北", "新", "大", "小", "龙", "石", "莲", "松", "竹", "塘", "岗", "沙", "安", "福",
    "禾", "榕", "荔", "凤", "和",
];
const HAMLET_MID: [&str; 16] =
    ["塘", "岗", "边", "田", "龙", "头", "安", "兴", "平", "美", "洞", "坑", "湖", "山", "园", "溪"];
const HAMLET_TAIL: [&str; 6] = ["村", "里", "坊", "围", "村", "里"];
const STREET_HEAD: [&str; 20] = [
    "新华", "建设", "人民", "中山", "兴华", "文明", "幸福", "和平", "安居", "富民", "锦江", "圣园", "振兴", "康乐",
    "育才", "朝阳", "民安", "惠民", "商业", "工业",
];
const STREET_TAIL: [&str; 4] = ["路", "街", "巷", "大道"];

/// One distinct label per grid of a unit: hamlet names (`新塘里`) in villages, street names
/// (`新华路`) in the community. Synthetic.
pub fn grid_labels(rng: &mut ChaCha8Rng, kind: AreaKind, count: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut labels = Vec::with_capacity(count);
    while labels.len() < count {
        let label = match kind {
            AreaKind::Community => {
                let tail = *pick(rng, &STREET_TAIL);
                format!("{}{tail}", pick(rng, &STREET_HEAD))
            }
            _ => {
                let (head, mid, tail) = (*pick(rng, &HAMLET_HEAD), *pick(rng, &HAMLET_MID), *pick(rng, &HAMLET_TAIL));
                if head == mid {
                    continue;
                }
                format!("{head}{mid}{tail}")
            }
        };
        if seen.insert(label.clone()) {
            labels.push(label);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn labels_are_distinct() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (kind, n) in [(AreaKind::Community, 40), (AreaKind::Village, 40)] {
            let labels = grid_labels(&mut rng, kind, n);
            let set: HashSet<_> = labels.iter().collect();
            assert_eq!(set.len(), n);
        }
    }

    #[test]
    fn names_have_surname_and_given_name() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for year in [1930, 1975, 2015] {
            for sex in [Sex::Male, Sex::Female] {
                let name = full_name(&mut rng, "司徒", sex, year);
                assert!(name.starts_with("司徒") && name.chars().count() == 4, "{name}");
            }
        }
    }
}
