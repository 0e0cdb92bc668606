//! The one comparison of record keys (e-mail addresses, external ids)
//! across every connector: two values are the same key when they are the
//! same after Unicode NFKC, case folding and trimming.
//!
//! NFKC makes compatibility forms one: full-width `ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ`
//! (typed with a Japanese IME) and half-width `yamada@example.jp`, an
//! ideographic space and a plain one. Case folding (not lower-casing) is
//! Unicode's rule for caseless matching (`ß` and `ss`, Greek final sigma).
//! NFKC runs again after folding, as Unicode's NFKC_Casefold does, because
//! folding can leave a string unnormalised. Trimming comes last, so an
//! ideographic space around a key (NFKC makes it U+0020) goes too.
//!
//! The engine folds a key where it reads one (canonical values, CRM
//! look-ups, replays), never anywhere else, so no two places can disagree.

use icu_casemap::CaseMapper;
use icu_normalizer::ComposingNormalizerBorrowed;

/// The folded form of a key value.
pub fn fold(value: &str) -> String {
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let folded = CaseMapper::new()
        .fold_string(&nfkc.normalize(value))
        .into_owned();
    nfkc.normalize(&folded).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn full_width_and_half_width_forms_are_one_key() {
        assert_eq!(
            fold("ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ"),
            "yamada@example.jp"
        );
        assert_eq!(fold("ＹＡＭＡＤＡ@example.jp"), "yamada@example.jp");
        assert_eq!(fold("tanaka１２３@example.jp"), "tanaka123@example.jp");
    }

    #[test]
    fn ideographic_and_ascii_spaces_are_trimmed() {
        assert_eq!(
            fold("\u{3000}yamada@example.jp\u{3000}"),
            "yamada@example.jp"
        );
        assert_eq!(fold("  Yamada@Example.JP \t"), "yamada@example.jp");
    }

    #[test]
    fn case_folding_is_unicodes_not_lowercasing() {
        assert_eq!(fold("STRASSE@example.de"), fold("straße@example.de"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ@example.gr"), fold("σίσυφος@example.gr"));
    }

    #[test]
    fn different_people_stay_different() {
        assert_ne!(fold("yamada@example.jp"), fold("yamada@example.com"));
        assert_ne!(fold("やまだ@example.jp"), fold("ヤマダ@example.jp"));
    }
}
