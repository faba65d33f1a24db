//! Recorded SCP03 sessions for the host, card and observer tests, in one shape whatever their
//! source:
//!
//! - the sessions of `shared/vectors/scp03.json` (read at test time), and
//! - published APDUs not in that file, quoted here with their source:
//!   - osmocom/pysim `tests/unittests/test_globalplatform.py` @078ac2bf (GPL; values only):
//!     `SCP03_Test_AES192_{11,03,33}` and `SCP03_Test_AES256_{11,03,33}`, captured from a
//!     sysmoEUICC1 ISD-R with pseudo-random challenges;
//!   - Samsung/OpenSCP-Java `src/test/java/com/samsung/openscp/testdata/`
//!     `SmartCardScp03{Aes128S16,Aes192S8,Aes192S16,Aes256S8,Aes256S16}ModeEmulation.java`,
//!     `InputTestData.java`, `OutputTestData.java` @6696c018 (Apache-2.0; values only) — the
//!     only public S16 sessions.

use super::cryptogram::{ScpMode, SecurityLevel};
use super::keys::StaticKeys;
use super::testdata::{h, hex};
use serde_json::Value;

/// The eUICC ISD-R AID (SGP.02), owner of the pySim sessions' secure channel.
pub const ISD_R_AID: &str = "A0000005591010FFFFFFFF8900000100";

/// One command of a session after EXTERNAL AUTHENTICATE.
#[derive(Clone, Debug)]
pub struct Step {
    pub plain_cmd: Vec<u8>,
    pub wrapped_cmd: Vec<u8>,
    /// Plain response data and the recorded response (data, R-MAC, SW), when recorded.
    pub response: Option<(Vec<u8>, Vec<u8>)>,
}

/// A recorded session from INITIALIZE UPDATE on.
#[derive(Clone, Debug)]
pub struct Session {
    pub name: String,
    pub keys: StaticKeys,
    pub mode: ScpMode,
    pub level: SecurityLevel,
    /// Set when the card challenge is the pseudo-random one of this Security Domain AID.
    pub sd_aid: Option<Vec<u8>>,
    pub init_update_cmd: Vec<u8>,
    /// Response including SW.
    pub init_update_rsp: Vec<u8>,
    pub ext_auth_cmd: Vec<u8>,
    pub steps: Vec<Step>,
}

impl Session {
    /// KVN requested in INITIALIZE UPDATE.
    pub fn kvn(&self) -> u8 {
        self.init_update_cmd[2]
    }

    /// The host challenge of INITIALIZE UPDATE.
    pub fn host_challenge(&self) -> &[u8] {
        &self.init_update_cmd[5..5 + self.mode.challenge_len()]
    }

    /// Every recorded (command, response) pair in order. Commands whose response was not
    /// published get '6A88', an error status that carries no R-MAC.
    pub fn exchanges(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = vec![
            (self.init_update_cmd.clone(), self.init_update_rsp.clone()),
            (self.ext_auth_cmd.clone(), h("9000")),
        ];
        for s in &self.steps {
            let rsp = s
                .response
                .as_ref()
                .map_or_else(|| h("6A88"), |r| r.1.clone());
            out.push((s.wrapped_cmd.clone(), rsp));
        }
        out
    }
}

/// The sessions of scp03.json (pySim and Samsung groups).
pub fn from_vectors(v: &Value) -> Vec<Session> {
    let mut out = Vec::new();
    for (group, pseudo_random) in [
        ("scp03_sessions_pysim", true),
        ("scp03_sessions_samsung", false),
    ] {
        for s in v[group]["sessions"].as_array().expect("sessions") {
            let kvn = hex(&s["parsed_init_update_rsp"]["kvn"])[0];
            let keys = StaticKeys::new(
                kvn,
                &hex(&s["key_enc"]),
                &hex(&s["key_mac"]),
                &hex(&s["key_dek"]),
            )
            .expect("keys");
            let mut init_update_rsp = s
                .get("init_update_rsp_with_sw")
                .map_or_else(|| [hex(&s["init_update_rsp"]), h("9000")].concat(), hex);
            init_update_rsp.shrink_to_fit();
            let all = s["steps"].as_array().expect("steps");
            let mut steps: Vec<Step> = Vec::new();
            for st in &all[1..] {
                if let Some(plain) = st.get("plain") {
                    steps.push(Step {
                        plain_cmd: hex(plain),
                        wrapped_cmd: hex(&st["wrapped"]),
                        response: None,
                    });
                } else {
                    let recorded = [hex(&st["rapdu_data"]), hex(&st["sw"])].concat();
                    let plain = st
                        .get("plain_response_data")
                        .map_or_else(|| hex(&st["rapdu_data"]), hex);
                    steps.last_mut().expect("command before response").response =
                        Some((plain, recorded));
                }
            }
            out.push(Session {
                name: s["name"].as_str().expect("name").to_string(),
                keys,
                mode: ScpMode::S8,
                level: SecurityLevel::from_p1(hex(&s["security_level_P1"])[0]).expect("level"),
                sd_aid: pseudo_random.then(|| h(ISD_R_AID)),
                init_update_cmd: hex(&s["init_update_cmd"]),
                init_update_rsp,
                ext_auth_cmd: hex(&all[0]["wrapped"]),
                steps,
            });
        }
    }
    out
}

struct Pysim {
    name: &'static str,
    key_len: usize,
    init_upd_cmd: &'static str,
    init_upd_rsp: &'static str,
    ext_auth_cmd: &'static str,
    get_eid_cmd: &'static str,
    get_eid_rsp: &'static str,
    cases: [&'static str; 4],
}

#[rustfmt::skip]
const PYSIM: [Pysim; 6] = [
    Pysim { name: "pySim SCP03_Test_AES192_11", key_len: 24,
        init_upd_cmd: "80503100087396430b768b085b00",
        init_upd_rsp: "000000000000000000003103708cfc23522ffdbf1e5df5542cac8fd866000003",
        ext_auth_cmd: "84821100102145ed30b146f5db252fb7e624cec244",
        get_eid_cmd: "84e291000ebf3e035c015aff42cf801d14394400",
        get_eid_rsp: "bf3e125a1089882119900000000000000000000005162fbd33e04940a9",
        cases: ["84f22002084584e4f6784811ee", "84ca006608937776ebe190fa3000",
            "84f22002124f0212345c054f9f70c59a52bddf3040368c", "84f280020a4f009804b11411f7393d00"] },
    Pysim { name: "pySim SCP03_Test_AES192_03", key_len: 24,
        init_upd_cmd: "805031000869c65da8202bf19f00",
        init_upd_rsp: "00000000000000000000310370b570a67be38446717729d6dd3d2ec5b1000001",
        ext_auth_cmd: "848203001065df4f1a356a887905466516d9e5b7c1",
        get_eid_cmd: "84e2910018d2c6fb477c5d4afe4fd4d21f17eff10d3578ec1774a12a2d00",
        get_eid_rsp: "bf3e125a1089882119900000000000000000000005",
        cases: ["84f2200208964e188f0b1bb697", "84ca006608f0820035a41d3e1800",
            "84f220021806b076ed452cd1fa84f77f5c08a146aa77a9286757dea791",
            "84f2800218d06527e39222dce091fabdb8e9b898417a67a6852d3577db00"] },
    Pysim { name: "pySim SCP03_Test_AES192_33", key_len: 24,
        init_upd_cmd: "80503100089b3f2eef0e8c937400",
        init_upd_rsp: "00000000000000000000310370f6bb305a15bae1a68f79fb08212fbed7000002",
        ext_auth_cmd: "84823300109100bc22d58b45b86a26365ce39ff3cf",
        get_eid_cmd: "84e29100188f7f946c84f70d17994bc6e8791251bb1bb1bf02cf8de58900",
        get_eid_rsp: "c05176c1b6f72aae50c32cbee63b0e95998928fd4dfb2be9f27ffde8c8476f5909b4805cc4039599",
        cases: ["84f2200208d5d97754b6b3d2ba", "84ca006608516c82b8e30adbeb00",
            "84f2200218cc247f4761e6944277a4e0d6e32e44025b1e31537e2fc668",
            "84f2800218ba22b63d509bef5d093b43e5eaed03ed23144ab2d9cb51de00"] },
    Pysim { name: "pySim SCP03_Test_AES256_11", key_len: 32,
        init_upd_cmd: "805032000811666d57866c6f5400",
        init_upd_rsp: "0000000000000000000032037053ea8847efa7674e41498a4d66cf0dee000003",
        ext_auth_cmd: "84821100102f2ad190eff2fafc4908996d1cebd310",
        get_eid_cmd: "84e291000ebf3e035c015af4b680372542b59d00",
        get_eid_rsp: "bf3e125a10898821199000000000000000000000058012dd7f01f1c4c1",
        cases: ["84f2200208d618b7da68d5fe52", "84ca0066088f3e055db23ad5e500",
            "84f22002124f0212345c054f9f70c5b6e15cc42404915e", "84f280020a4f00aa124aa74afe7f7500"] },
    Pysim { name: "pySim SCP03_Test_AES256_03", key_len: 32,
        init_upd_cmd: "8050320008c6066990fc426e1d00",
        init_upd_rsp: "000000000000000000003203708682cd81bbd8919f2de3f2664581f118000001",
        ext_auth_cmd: "848203001077c493b632edadaf865a1e64acc07ce9",
        get_eid_cmd: "84e29100183ddaa60594963befaada3525b492ede23c2ab2c1ce3afe4400",
        get_eid_rsp: "bf3e125a1089882119900000000000000000000005",
        cases: ["84f2200208480ddc8e419da38d", "84ca0066083e9d6a6c0b2d732000",
            "84f22002183ebfef2da8b04af2a85f491f299b76973df76ff08a4031be",
            "84f2800218783fff80990f5585b1055010ea95094a26e4a8f1ef4b18e100"] },
    Pysim { name: "pySim SCP03_Test_AES256_33", key_len: 32,
        init_upd_cmd: "805032000897b2055fe58599fd00",
        init_upd_rsp: "00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002",
        ext_auth_cmd: "8482330010508a0fd959d2e547c6b33154a6be2057",
        get_eid_cmd: "84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea00",
        get_eid_rsp: "ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2ace7f8bc5d1c1cd99",
        cases: ["84f2200208bcc5c17275545d93", "84ca00660804806aba9d543bb600",
            "84f2200218717222491556ec81a45f49ce48be33320024801a1c4cb0e0",
            "84f2800218561f105bccd3a1642904b251ccc1228beb80a82370a8637000"] },
];

/// pySim's plain commands (`SCP03_Test` base class) and GET EID response.
const PYSIM_GET_EID: &str = "80E2910006BF3E035C015A00";
const PYSIM_EID_RESPONSE: &str = "BF3E125A1089882119900000000000000000000005";
const PYSIM_CASES: [&str; 4] = [
    "80F22002",
    "80CA006600",
    "80F220020A4F0212345C054F9F70C5",
    "80F28002024F0000",
];

fn pysim_keys(len: usize, kvn: u8) -> StaticKeys {
    let pattern = |base: u8| -> Vec<u8> {
        (0..len)
            .map(|i| base | u8::try_from(i % 16).unwrap())
            .collect()
    };
    StaticKeys::new(kvn, &pattern(0x00), &pattern(0x10), &pattern(0x20)).expect("keys")
}

struct Samsung {
    name: &'static str,
    key_len: usize,
    mode: ScpMode,
    init_update: [&'static str; 2],
    ext_auth_cmd: &'static str,
    get_status: [[&'static str; 2]; 3],
}

#[rustfmt::skip]
const SAMSUNG: [Samsung; 5] = [
    Samsung { name: "Samsung OpenSCP AES128_S16", key_len: 16, mode: ScpMode::S16,
        init_update: ["805030001006F85B77251BF79406F85B77251BF79400",
            "A1A012430585513120853003710617A2C34D50B562F7DECFC3DBF58A649EF733B7486D813C92E4CA61E5102F9100082A9000"],
        ext_auth_cmd: "84823300201C6A43582F842A90D81CA4E970754664D8C0C6C340E007C5C6EBCDF4F7C065BE",
        get_status: [
            ["84F2200020EB30913C363A6C1309D13ADC765D9DF1C44F207C2941B898A290F627B05AE990",
             "05717C3DED78C6BB7AEE55A68E66E0D7C90473C380A60755DD7B63ECF55FD0B4067612B43A0A05CDA95E9122C91D8527A21681805C1A25AAA38994E15A6379DF66EE234701C673C32DAF5C54B11085C49000"],
            ["84F2400020F1EC5CF268D357692CD0FAF186A1E6C79F68B473C4672C0A08F0437B16314698",
             "D7B658F9308D59779672CE4E5D1B8E6BD2A5A90F745788DAA817980BF84C2522B791382D5A095868C096AC6A851A98A028CBBA7AC67D5F834F7969FE199B0DBBA12EF90E27CCF95C062D27BADAFC3B03CFB6964CCBE3FC04B54EFCD3B446B4469000"],
            ["84F2800020A9DDD67660ECC75765C431CD69AD53A79202F01E13B24C15F4CFF4C9B335EEE5",
             "5A866565D1D0F35427E010043F82E8ABCA25C79A3CAA41547838978F779563FFDEA329E3ABD1CBA719A6D9C13B7D45CC9000"]] },
    Samsung { name: "Samsung OpenSCP AES192_S8", key_len: 24, mode: ScpMode::S8,
        init_update: ["805030000806F85B77251BF79400",
            "A1A012430585513120853003709CE033FA78E6B10D6E7C64F962A822A400082A9000"],
        ext_auth_cmd: "848233001063B6CEFAC0EC098333860788C65220BA",
        get_status: [
            ["84F2200018D9EDCBCB7F69CB1EF0508E6EDE933A6D80091E7D99CB3E51",
             "99077B167D43A4F313B59B63CC23EFD3B5158BDEF8F24D85E250570A4AAB81869A92307350267F0FBC2278FA3D34D2FD5D2B4E8C0362C01D082C76A17B80AEA4BA5FB9D7DA3BB3689000"],
            ["84F2400018CDC4B0480CF151C1132655133115A8CA1A89964F2554551C",
             "AB7A97B6C673DF3D95378D06B7B42E25D7C3B22D6D1A42299FFED17F5973950EC68C77700FC01947067470178A1D06152ED648E95E8C3510B61CF0036DFD8C9F6FA167D32FDEB3F81A0E6B2BB35BCD4CD104692D131D77769000"],
            ["84F280001896800333FA638A32DBCCBF4C7E52FBD5DA469A954E1D58F6",
             "E5E5761FEFF5C0C078ADBC4E77B7290094C99183AC73CAB99A7412D0194DEFFDD0895DCCE662D9459000"]] },
    Samsung { name: "Samsung OpenSCP AES192_S16", key_len: 24, mode: ScpMode::S16,
        init_update: ["805030001006F85B77251BF79406F85B77251BF79400",
            "A1A012430585513120853003710617A2C34D50B562F7DECFC3DBF58A64A378671D41E7F6E3F5254CA9D4C481A400082A9000"],
        ext_auth_cmd: "848233002099033B5BB5246C859B9748E497EDAE8D9EBB7BD196CE4E3EBFC92343D69478AB",
        get_status: [
            ["84F220002032319E399171DAF20FD8E8ECD1CE462569B7D5645AAD98E537593EF48816DB4B",
             "B6AB2FDB15B2D1A895B8329736C5AF47D4B6B6AECBB73E327A91D300D4BF0F36AD710F7FF5505481F690EFE3561E1C5335EF510B018D56D21D5F1CA9557AC9E225D04413BAA39828273DBC4B00B0BF309000"],
            ["84F2400020161D4B6C1E2D790D66EA1E890ADC3F45D59E2416D6DC553E8738C2ADA182E583",
             "3C24F511B4923F55DE51925292BEED9456359F54F01B3D0C6C30C5666030788FE6BD1345C802AE66E8CB06C93E64CFE74590D83E85E8B1E06A7A750A48E8554B1DB948BFD041432E824BCDD24AACD87F65A98615076CAD3418BD67BFC1B4FC4C9000"],
            ["84F28000208BCC8139988A0F51441F6F8FF3C20A526CD783E30BEC1D8CC9D7E3D43AE779A5",
             "B2332173A07F9EBE27EDEA0DB5849B6CACC0F28A77DA52AB9A1E151399ABD07115DDB34C92C8DA0FFE679FD8D7DF0F369000"]] },
    Samsung { name: "Samsung OpenSCP AES256_S8", key_len: 32, mode: ScpMode::S8,
        init_update: ["805030000806F85B77251BF79400",
            "A1A012430585513120853003709CE033FA78E6B10D8AFA7267CB63740E00082A9000"],
        ext_auth_cmd: "848233001050E003735F92228269A094FFC07429FD",
        get_status: [
            ["84F2200018BD57D1382AE8F66F7EB5F5991B92D1399044157C7DFD2761",
             "47D81041004B7E9208E3BEF1372E7CDE8CD995AEF207F138C80D45156F2D36F2B15BDC9C4D6FDB9774344495CCC83AE7BA0B39C734BF9CEBD07204AA5A67DF2D7E663D55FC4944C09000"],
            ["84F240001845D2B475C3EFF8BBB254D0B6A8E6CA97CF5265D907A76070",
             "59E8DCFDC22D436336552128F790E1B383D6942ED4025F30FE8D95541E634E238BFD963D88DF822D8EBCC1272A9D56C7D1CBC306039647FC4977EFF562C0B8C01314B1C8B2D168A581A98C65B676B3EE4032E91A9C0858EC9000"],
            ["84F28000187083CA3ADA0F76CF7B3FFAC60ABE13599D521EE7B9224C49",
             "E58CB33A46F76909ADDDFF0C2821F4F25F22B5553C534DC69000"]] },
    Samsung { name: "Samsung OpenSCP AES256_S16", key_len: 32, mode: ScpMode::S16,
        init_update: ["805030001006F85B77251BF79406F85B77251BF79400",
            "A1A012430585513120853003710617A2C34D50B562F7DECFC3DBF58A6499D2966CF09C9201FDE8343E93FB18B400082A9000"],
        ext_auth_cmd: "848233002071D1A091C5D24AF177B00E69B1A32B4E30A5168CF8C86B19730DF915EF82D8A7",
        get_status: [
            ["84F2200020DD3036DC4C636717702732ABBA185633873A933310002B25E386CF10A4E6B130",
             "A5E7309DCA3EFFA13D1AA03FE0D3E2BA8D04DF15A6A26989150F512ED453F5DFFB2A7E4EE4E2FFACEFC0945435BCAF3A914A9F7BD66B4F82635B7757AE82B54262489B3B58224F99E846E2A8061B17329000"],
            ["84F2400020EC2F4F2DDA358BF87C9A946D129D7C12F132C6A63CDAD60E80526C9A6487580C",
             "160229863B7636672F094A2C2E62F845D3A4A38C0FB9171AF14FEE433CF4C2FA10A6E4F1EC14E8792FE0A009720C290A64C2FD9183167BFFF0AC4AF516838DE4E5A62B6AC4444AC81E5C73A6B7A57D6C55D2682B2F986C1F1FCD77DDAF69846C9000"],
            ["84F28000207C873E7BDCE82D67EC28783A3C3222C01E70D8C7A498CA3C7E348944F44A18B3",
             "90AFB999D6499F47285B6319135F67F78D4CE73A3BD87F97DE623488BA9DBC7549F27DFF5B61E215A5C91F99D21682119000"]] },
];

/// Samsung's static keys (`InputTestData.java`): the AES-128 keys extended for 192/256.
const SAMSUNG_KEYS: [&str; 3] = [
    "1D72CD9283FD55162722C6BEAA4DC1877F4C0CD0ECC15E052AAC39A99AF9AD72",
    "F4932BA02FFC3098D172790099D2838236F2E61068D56F4401CC0374C25AF8CB",
    "B4BDC610C3F6793708FF1132E2C5BF60523AEAC06B32F204B851B6CC007C8D3C",
];
/// Samsung's plain GET STATUS commands and responses (`OutputTestData.java`).
const SAMSUNG_PLAIN: [[&str; 2]; 3] = [
    ["80F22000024F00", "08A00000015141434C010010A0000002202003010101000000000006010010A0000002202003010101000000000011010005A0000002480100"],
    ["80F24000024F00", "0AA9A8A7A6A5A4A3A2A1A00F800AA0A1A2A3A4A5A6A7A8A9070009A00000015141434C00070010A0000002202003010301000000000011070007A00000024804000700"],
    ["80F28000024F00", "08A0000001510000000F9E"],
];

/// The published sessions quoted in this file.
pub fn published() -> Vec<Session> {
    let mut out = Vec::new();
    for p in &PYSIM {
        let init_update_cmd = h(p.init_upd_cmd);
        let level = SecurityLevel::from_p1(h(p.ext_auth_cmd)[2]).expect("level");
        let mut steps = vec![Step {
            plain_cmd: h(PYSIM_GET_EID),
            wrapped_cmd: h(p.get_eid_cmd),
            response: Some((
                h(PYSIM_EID_RESPONSE),
                [h(p.get_eid_rsp), h("9000")].concat(),
            )),
        }];
        for (plain, wrapped) in PYSIM_CASES.iter().zip(p.cases) {
            steps.push(Step {
                plain_cmd: h(plain),
                wrapped_cmd: h(wrapped),
                response: None,
            });
        }
        out.push(Session {
            name: p.name.to_string(),
            keys: pysim_keys(p.key_len, init_update_cmd[2]),
            mode: ScpMode::S8,
            level,
            sd_aid: Some(h(ISD_R_AID)),
            init_update_cmd,
            init_update_rsp: [h(p.init_upd_rsp), h("9000")].concat(),
            ext_auth_cmd: h(p.ext_auth_cmd),
            steps,
        });
    }
    for s in &SAMSUNG {
        let [enc, mac, dek] = SAMSUNG_KEYS.map(|k| h(k)[..s.key_len].to_vec());
        let steps = s
            .get_status
            .iter()
            .zip(SAMSUNG_PLAIN)
            .map(|([wc, wr], [pc, pr])| Step {
                plain_cmd: h(pc),
                wrapped_cmd: h(wc),
                response: Some((h(pr), h(wr))),
            })
            .collect();
        out.push(Session {
            name: s.name.to_string(),
            keys: StaticKeys::new(0x30, &enc, &mac, &dek).expect("keys"),
            mode: s.mode,
            level: SecurityLevel::CDecREncCMacRMac,
            sd_aid: None,
            init_update_cmd: h(s.init_update[0]),
            init_update_rsp: h(s.init_update[1]),
            ext_auth_cmd: h(s.ext_auth_cmd),
            steps,
        });
    }
    out
}
