//! Property tests: the loader never panics on arbitrary or mangled input, and any JSON value can
//! be written into a template by the rewrite (whose built-in verification then agrees that the
//! file holds exactly that value).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::path::Path;

use keycard_core::template::{Edit, Template, find_grants};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn fixture_texts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/templates");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && std::fs::metadata(&p).unwrap().len() < 20_000 {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push((name, text));
            }
        }
    }
    out.sort();
    out
}

/// Characters that matter to YAML and JSON syntax, plus some that matter to nobody.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::sample::select(vec![
            ' ', '\t', '\n', '\r', ':', '-', '?', '[', ']', '{', '}', ',', '#', '&', '*', '!', '|',
            '>', '\'', '"', '%', '@', '`', '\\', '$', '~', '.', '0', 'a', 'é', '\u{feff}', '\u{0}',
            '\u{85}', '\u{2028}',
        ]),
        any::<char>(),
    ]
}

fn nasty_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(nasty_char(), 0..24).prop_map(|v| v.into_iter().collect())
}

/// JSON values with awkward strings, numbers and intrinsics in both spellings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        nasty_string().prop_map(Value::String),
        "[A-Za-z][A-Za-z0-9]{0,8}".prop_map(|s| json!({"Ref": s})),
        ("[A-Za-z][A-Za-z0-9]{0,8}", "[A-Za-z][A-Za-z0-9.]{0,8}")
            .prop_map(|(a, b)| json!({"Fn::GetAtt": [a, b]})),
        nasty_string().prop_map(|s| json!({"Fn::Sub": s})),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((nasty_string(), inner.clone()), 0..5).prop_map(|kv| {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k, v);
                }
                Value::Object(m)
            }),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| json!({"Fn::If": ["IsProd", a, [b, c]]})),
        ]
    })
}

const YAML: &str = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Path: /\n      Tags:\n        - Key: a\n          Value: !Ref X\n      Flow: [a, {b: c}]\nOutputs:\n  Arn:\n    Value: !GetAtt Role.Arn\n";
const JSON: &str = "{\n  \"Resources\": {\n    \"Role\": {\n      \"Type\": \"AWS::IAM::Role\",\n      \"Properties\": {\n        \"Path\": \"/\",\n        \"Tags\": [{\"Key\": \"a\", \"Value\": {\"Ref\": \"X\"}}]\n      }\n    }\n  }\n}\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in proptest::collection::vec(nasty_char(), 0..400)) {
        let text: String = text.into_iter().collect();
        if let Ok(t) = Template::load("fuzz.yaml", &text) {
            let _ = find_grants(&t);
            prop_assert_eq!(t.apply(&[]).unwrap(), text.clone());
        }
        let _ = Template::load("fuzz.json", &text);
    }

    #[test]
    fn mangled_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..6, nasty_string()), 1..6),
    ) {
        let fixtures = fixture_texts();
        let (name, text) = &fixtures[pick.index(fixtures.len())];
        let mut chars: Vec<char> = text.chars().collect();
        for (at, len, insert) in cuts {
            let i = at.index(chars.len().max(1)).min(chars.len());
            let j = (i + len).min(chars.len());
            chars.splice(i..j, insert.chars());
        }
        let mangled: String = chars.into_iter().collect();
        if let Ok(t) = Template::load(name, &mangled) {
            let grants = find_grants(&t);
            prop_assert_eq!(t.apply(&[]).unwrap(), mangled.clone());
            // Any grant path is a valid edit handle; the edit either works or errors cleanly.
            if let Some(g) = grants.grants.first() {
                let _ = t.apply(&[Edit::replace(&g.path, json!({"Statement": []}))]);
                let _ = t.apply(&[Edit::remove(&g.path)]);
            }
        }
    }

    #[test]
    fn any_value_can_be_written_into_yaml(value in json_value(), key in nasty_string()) {
        let t = Template::load("t.yaml", YAML).unwrap();
        for edit in [
            Edit::replace("/Resources/Role/Properties/Path", value.clone()),
            Edit::replace("/Resources/Role/Properties/Tags/0", value.clone()),
            Edit::replace("/Resources/Role/Properties/Flow/1", value.clone()),
            Edit::push("/Resources/Role/Properties/Tags", value.clone()),
            Edit::push("/Resources/Role/Properties/Flow", value.clone()),
            Edit::insert("/Resources/Role/Properties", &format!("K{key}"), value.clone()),
            Edit::add_resource("Added", json!({"Type": "AWS::SNS::Topic", "Metadata": value.clone()})),
        ] {
            let out = t.apply(std::slice::from_ref(&edit));
            prop_assert!(out.is_ok(), "{edit:?}: {}", out.as_ref().unwrap_err());
            // Independent of the engine's (local) verification: a full re-parse agrees.
            let again = Template::load("t.yaml", &out.unwrap()).unwrap();
            match &edit {
                Edit::Replace { path, value } => {
                    prop_assert_eq!(&again.node(path).unwrap().to_json(), value);
                }
                Edit::Insert { path, key, value } => {
                    let map = again.node(path).unwrap();
                    prop_assert_eq!(&map.get(key).unwrap().to_json(), value);
                }
                Edit::Push { path, value } => {
                    let items = again.node(path).unwrap().as_seq().unwrap();
                    prop_assert_eq!(&items.last().unwrap().to_json(), value);
                }
                Edit::Remove { .. } => {}
            }
            prop_assert_eq!(again.node("/Outputs/Arn/Value").unwrap().to_json(), json!({"Fn::GetAtt": ["Role", "Arn"]}));
            prop_assert_eq!(again.node("/Resources/Role/Type").unwrap().to_json(), json!("AWS::IAM::Role"));
            prop_assert_eq!(again.node("/Resources/Role/Properties/Tags/0/Key").map(|n| n.to_json()).is_some(), !matches!(&edit, Edit::Replace { path, .. } if path.ends_with("Tags/0")) || value.get("Key").is_some());
        }
    }

    #[test]
    fn any_value_can_be_written_into_json(value in json_value(), key in nasty_string()) {
        let t = Template::load("t.json", JSON).unwrap();
        for edit in [
            Edit::replace("/Resources/Role/Properties/Path", value.clone()),
            Edit::replace("/Resources/Role/Properties/Tags/0", value.clone()),
            Edit::push("/Resources/Role/Properties/Tags", value.clone()),
            Edit::insert("/Resources/Role/Properties", &format!("K{key}"), value.clone()),
            Edit::add_resource("Added", json!({"Type": "AWS::SNS::Topic", "Metadata": value.clone()})),
        ] {
            let out = t.apply(std::slice::from_ref(&edit));
            prop_assert!(out.is_ok(), "{edit:?}: {}", out.unwrap_err());
        }
    }
}
