/*
 * Text measures for channel length limits, and cutting text to fit them.
 *
 * Every approximation here errs towards counting more: a count that is a
 * little high only cuts a message a little early, one that is too low gets
 * the post refused.
 *
 * Grapheme clusters follow UAX #29's extended grapheme cluster rules (GB3 to
 * GB13: CR LF, controls, Hangul L V T sequences, combining marks, ZWJ emoji
 * sequences, regional-indicator pairs), with compact tables instead of the
 * Unicode database, taken from Unicode 14:
 *  - combining marks (Extend and SpacingMark, folded into one class, merged
 *    across unassigned code points) cover the BMP, which holds every script
 *    in common use, plus the emoji modifiers, the tag characters and the
 *    variation selector supplement; the marks of historic astral scripts
 *    (Brahmi, Chakma...) count as characters of their own;
 *  - no GB9c (Unicode 15.1's Indic conjuncts): a conjunct such as क्ष
 *    counts 2, as Unicode 15.0 segmenters count it.
 *
 * Links. Mastodon and X count every URL as 23 (a t.co link on X, Mastodon's
 * URL_PLACEHOLDER), but only what twitter-text's URL grammar takes for one:
 * an http(s) URL whose host ends in a real top-level domain, ending before
 * whitespace, before characters it excludes ("<>{}^`\ and non-ASCII), and
 * before trailing punctuation. Without the IANA list, a link counts 23 only
 * when its domain is a two-letter one or a common generic one; any other
 * http(s) token (localhost, a bare IP, .internal, an IDN) counts the larger
 * of 23 and its plain length. X also links bare domains ("db1.example.com");
 * those count the larger of 23 and their plain length when they end in a
 * known domain, as plain text otherwise. Mastodon's remote mentions, which
 * it counts without the domain, count in full here.
 *
 * X's weighted count (twitter-text v3): weight 1 for U+0000-10FF,
 * U+2000-200D, U+2010-201F and U+2032-2037, 2 for anything else; an emoji
 * (a cluster that starts with a pictograph or a regional indicator, with
 * its modifiers, ZWJ parts, variation selectors and tags, or a keycap
 * sequence) counts 2 once. X normalises to NFC first and this code does
 * not: decomposed text counts its combining marks (more). A ZWJ sequence
 * that is not a recommended emoji counts 2 here and each part on X.
 *
 * Cutting (text_fit) never splits a grapheme cluster or a link, under any
 * measure. Word boundaries are breaking spaces, and any boundary next to a
 * kana or an ideograph (scripts written without spaces). keep is taken out
 * only where it stands alone: "https://x/3" is not found in "https://x/35".
 * Every candidate is measured whole, so the result fits even where context
 * (a link, a cluster) makes a measure not add up piece by piece.
 */
#include "text.h"

#include "ingest_util.h"

#include <crier/plugin_util.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_LINK_UNITS 23

typedef struct text_range {
	uint32_t lo, hi;
} text_range;

/*
 * Unicode 14 tables (GraphemeBreakProperty.txt, emoji-data.txt), sorted
 * ranges. Marks: Grapheme_Cluster_Break Extend and SpacingMark in the BMP
 * (merged across unassigned code points), then the emoji modifiers, the tags
 * and the variation selector supplement.
 */
static const text_range text_marks[] = {
    {0x300, 0x36F},     {0x483, 0x489},     {0x591, 0x5BD},    {0x5BF, 0x5BF},   {0x5C1, 0x5C2},   {0x5C4, 0x5C5},
    {0x5C7, 0x5C7},     {0x610, 0x61A},     {0x64B, 0x65F},    {0x670, 0x670},   {0x6D6, 0x6DC},   {0x6DF, 0x6E4},
    {0x6E7, 0x6E8},     {0x6EA, 0x6ED},     {0x711, 0x711},    {0x730, 0x74A},   {0x7A6, 0x7B0},   {0x7EB, 0x7F3},
    {0x7FD, 0x7FD},     {0x816, 0x819},     {0x81B, 0x823},    {0x825, 0x827},   {0x829, 0x82D},   {0x859, 0x85B},
    {0x898, 0x89F},     {0x8CA, 0x8E1},     {0x8E3, 0x903},    {0x93A, 0x93C},   {0x93E, 0x94F},   {0x951, 0x957},
    {0x962, 0x963},     {0x981, 0x983},     {0x9BC, 0x9BC},    {0x9BE, 0x9CD},   {0x9D7, 0x9D7},   {0x9E2, 0x9E3},
    {0x9FE, 0xA03},     {0xA3C, 0xA51},     {0xA70, 0xA71},    {0xA75, 0xA75},   {0xA81, 0xA83},   {0xABC, 0xABC},
    {0xABE, 0xACD},     {0xAE2, 0xAE3},     {0xAFA, 0xB03},    {0xB3C, 0xB3C},   {0xB3E, 0xB57},   {0xB62, 0xB63},
    {0xB82, 0xB82},     {0xBBE, 0xBCD},     {0xBD7, 0xBD7},    {0xC00, 0xC04},   {0xC3C, 0xC3C},   {0xC3E, 0xC56},
    {0xC62, 0xC63},     {0xC81, 0xC83},     {0xCBC, 0xCBC},    {0xCBE, 0xCD6},   {0xCE2, 0xCE3},   {0xD00, 0xD03},
    {0xD3B, 0xD3C},     {0xD3E, 0xD4D},     {0xD57, 0xD57},    {0xD62, 0xD63},   {0xD81, 0xD83},   {0xDCA, 0xDDF},
    {0xDF2, 0xDF3},     {0xE31, 0xE31},     {0xE33, 0xE3A},    {0xE47, 0xE4E},   {0xEB1, 0xEB1},   {0xEB3, 0xEBC},
    {0xEC8, 0xECD},     {0xF18, 0xF19},     {0xF35, 0xF35},    {0xF37, 0xF37},   {0xF39, 0xF39},   {0xF3E, 0xF3F},
    {0xF71, 0xF84},     {0xF86, 0xF87},     {0xF8D, 0xFBC},    {0xFC6, 0xFC6},   {0x102D, 0x1037}, {0x1039, 0x103E},
    {0x1056, 0x1059},   {0x105E, 0x1060},   {0x1071, 0x1074},  {0x1082, 0x1082}, {0x1084, 0x1086}, {0x108D, 0x108D},
    {0x109D, 0x109D},   {0x135D, 0x135F},   {0x1712, 0x1715},  {0x1732, 0x1734}, {0x1752, 0x1753}, {0x1772, 0x1773},
    {0x17B4, 0x17D3},   {0x17DD, 0x17DD},   {0x180B, 0x180D},  {0x180F, 0x180F}, {0x1885, 0x1886}, {0x18A9, 0x18A9},
    {0x1920, 0x193B},   {0x1A17, 0x1A1B},   {0x1A55, 0x1A60},  {0x1A62, 0x1A62}, {0x1A65, 0x1A7F}, {0x1AB0, 0x1B04},
    {0x1B34, 0x1B44},   {0x1B6B, 0x1B73},   {0x1B80, 0x1B82},  {0x1BA1, 0x1BAD}, {0x1BE6, 0x1BF3}, {0x1C24, 0x1C37},
    {0x1CD0, 0x1CD2},   {0x1CD4, 0x1CE8},   {0x1CED, 0x1CED},  {0x1CF4, 0x1CF4}, {0x1CF7, 0x1CF9}, {0x1DC0, 0x1DFF},
    {0x200C, 0x200C},   {0x20D0, 0x20F0},   {0x2CEF, 0x2CF1},  {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF}, {0x302A, 0x302F},
    {0x3099, 0x309A},   {0xA66F, 0xA672},   {0xA674, 0xA67D},  {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802},
    {0xA806, 0xA806},   {0xA80B, 0xA80B},   {0xA823, 0xA827},  {0xA82C, 0xA82C}, {0xA880, 0xA881}, {0xA8B4, 0xA8C5},
    {0xA8E0, 0xA8F1},   {0xA8FF, 0xA8FF},   {0xA926, 0xA92D},  {0xA947, 0xA953}, {0xA980, 0xA983}, {0xA9B3, 0xA9C0},
    {0xA9E5, 0xA9E5},   {0xAA29, 0xAA36},   {0xAA43, 0xAA43},  {0xAA4C, 0xAA4D}, {0xAA7C, 0xAA7C}, {0xAAB0, 0xAAB0},
    {0xAAB2, 0xAAB4},   {0xAAB7, 0xAAB8},   {0xAABE, 0xAABF},  {0xAAC1, 0xAAC1}, {0xAAEB, 0xAAEF}, {0xAAF5, 0xAAF6},
    {0xABE3, 0xABEA},   {0xABEC, 0xABED},   {0xFB1E, 0xFB1E},  {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFF9E, 0xFF9F},
    {0x1F3FB, 0x1F3FF}, {0xE0020, 0xE007F}, {0xE0100, 0xE01EF}};

/* Control: other controls, formats (but ZWNJ, ZWJ and the Prepend ones), line and paragraph separators. */
static const text_range text_controls[] = {
    {0x0, 0x9},         {0xB, 0xC},         {0xE, 0x1F},        {0x7F, 0x9F},       {0xAD, 0xAD},
    {0x61C, 0x61C},     {0x180E, 0x180E},   {0x200B, 0x200B},   {0x200E, 0x200F},   {0x2028, 0x202E},
    {0x2060, 0x206F},   {0xFEFF, 0xFEFF},   {0xFFF0, 0xFFFB},   {0x13430, 0x13438}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0000, 0xE001F}, {0xE0080, 0xE00FF}, {0xE01F0, 0xE0FFF}};

/* Prepend: signs that come before the letter they belong to (the Arabic number signs...). */
static const text_range text_prepends[] = {
    {0x600, 0x605},     {0x6DD, 0x6DD},     {0x70F, 0x70F},     {0x890, 0x891},     {0x8E2, 0x8E2},
    {0xD4E, 0xD4E},     {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x111C2, 0x111C3}, {0x1193F, 0x1193F},
    {0x11941, 0x11941}, {0x11A3A, 0x11A3A}, {0x11A84, 0x11A89}, {0x11D46, 0x11D46}};

/* Extended_Pictographic: emoji, and the symbols emoji sequences are made of. */
static const text_range text_pictographs[] = {
    {0xA9, 0xA9},       {0xAE, 0xAE},       {0x203C, 0x203C},   {0x2049, 0x2049},   {0x2122, 0x2122},
    {0x2139, 0x2139},   {0x2194, 0x2199},   {0x21A9, 0x21AA},   {0x231A, 0x231B},   {0x2328, 0x2328},
    {0x2388, 0x2388},   {0x23CF, 0x23CF},   {0x23E9, 0x23F3},   {0x23F8, 0x23FA},   {0x24C2, 0x24C2},
    {0x25AA, 0x25AB},   {0x25B6, 0x25B6},   {0x25C0, 0x25C0},   {0x25FB, 0x25FE},   {0x2600, 0x2605},
    {0x2607, 0x2612},   {0x2614, 0x2685},   {0x2690, 0x2705},   {0x2708, 0x2712},   {0x2714, 0x2714},
    {0x2716, 0x2716},   {0x271D, 0x271D},   {0x2721, 0x2721},   {0x2728, 0x2728},   {0x2733, 0x2734},
    {0x2744, 0x2744},   {0x2747, 0x2747},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2763, 0x2767},   {0x2795, 0x2797},   {0x27A1, 0x27A1},   {0x27B0, 0x27B0},
    {0x27BF, 0x27BF},   {0x2934, 0x2935},   {0x2B05, 0x2B07},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},
    {0x2B55, 0x2B55},   {0x3030, 0x3030},   {0x303D, 0x303D},   {0x3297, 0x3297},   {0x3299, 0x3299},
    {0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F}, {0x1F12F, 0x1F12F}, {0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1E5}, {0x1F201, 0x1F20F}, {0x1F21A, 0x1F21A},
    {0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A}, {0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA}, {0x1F400, 0x1F53D},
    {0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F}, {0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F},
    {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F}, {0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF}, {0x1F90C, 0x1F93A},
    {0x1F93C, 0x1F945}, {0x1F947, 0x1FAFF}, {0x1FC00, 0x1FFFD}};

static int text_in(const text_range *t, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < t[mid].lo)
			hi = mid;
		else if (cp > t[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

#define TEXT_IN(table, cp) text_in(table, sizeof(table) / sizeof(table[0]), cp)

/*
 * One code point at s (len > 0 bytes); *cp is U+FFFD for an invalid
 * sequence, which is the longest prefix of a valid one (Unicode's "maximal
 * subpart", at least one byte). Returns the bytes taken.
 */
static size_t text_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	size_t need;
	uint32_t v;

	*cp = 0xFFFD;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
		v = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		v = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0; /* overlong */
		else if (b == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		v = b & 0x07;
		if (b == 0xF0)
			lo = 0x90; /* overlong */
		else if (b == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	} else {
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi)
			return i;
		v = v << 6 | (s[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = v;
	return need + 1;
}

/* Grapheme_Cluster_Break classes (UAX #29), SpacingMark folded into Extend. */
typedef enum text_gcb {
	TEXT_OTHER,
	TEXT_CR,
	TEXT_LF,
	TEXT_CONTROL,
	TEXT_EXTEND,
	TEXT_ZWJ,
	TEXT_RI,
	TEXT_PREPEND,
	TEXT_L,
	TEXT_V,
	TEXT_T,
	TEXT_LV,
	TEXT_LVT
} text_gcb;

static text_gcb text_class(uint32_t cp)
{
	if (cp < 0x7F)
		return cp == '\r' ? TEXT_CR : cp == '\n' ? TEXT_LF : cp < 0x20 ? TEXT_CONTROL : TEXT_OTHER;
	if (cp < 0x300) /* Latin-1 and Latin Extended: no marks */
		return cp <= 0x9F || cp == 0xAD ? TEXT_CONTROL : TEXT_OTHER;
	if (cp == 0x200D)
		return TEXT_ZWJ;
	if (cp >= 0x1F1E6 && cp <= 0x1F1FF)
		return TEXT_RI;
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0xA960 && cp <= 0xA97C))
		return TEXT_L;
	if ((cp >= 0x1160 && cp <= 0x11A7) || (cp >= 0xD7B0 && cp <= 0xD7C6))
		return TEXT_V;
	if ((cp >= 0x11A8 && cp <= 0x11FF) || (cp >= 0xD7CB && cp <= 0xD7FB))
		return TEXT_T;
	if (cp >= 0xAC00 && cp <= 0xD7A3)
		return (cp - 0xAC00) % 28 == 0 ? TEXT_LV : TEXT_LVT;
	if (TEXT_IN(text_marks, cp))
		return TEXT_EXTEND;
	if (TEXT_IN(text_controls, cp))
		return TEXT_CONTROL;
	if (TEXT_IN(text_prepends, cp))
		return TEXT_PREPEND;
	return TEXT_OTHER;
}

static int text_pictograph(uint32_t cp)
{
	return cp >= 0xA9 && TEXT_IN(text_pictographs, cp);
}

/* The parts of an emoji sequence after its first character. */
static int text_emoji_part(uint32_t cp)
{
	return cp == 0x200D || cp == 0xFE0E || cp == 0xFE0F || cp == 0x20E3 || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
	       (cp >= 0xE0020 && cp <= 0xE007F) || (cp >= 0x1F1E6 && cp <= 0x1F1FF) || text_pictograph(cp);
}

/* No break between a and b (GB3-GB13); pict is 2 when a is a ZWJ that
 * follows a pictograph and its marks, ri the regional indicators in a row
 * up to a. */
static int text_joins(text_gcb a, text_gcb b, int b_pict, int pict, size_t ri)
{
	if (a == TEXT_CR && b == TEXT_LF)
		return 1;
	if (a == TEXT_CR || a == TEXT_LF || a == TEXT_CONTROL || b == TEXT_CR || b == TEXT_LF || b == TEXT_CONTROL)
		return 0;
	if (a == TEXT_L && (b == TEXT_L || b == TEXT_V || b == TEXT_LV || b == TEXT_LVT))
		return 1;
	if ((a == TEXT_LV || a == TEXT_V) && (b == TEXT_V || b == TEXT_T))
		return 1;
	if ((a == TEXT_LVT || a == TEXT_T) && b == TEXT_T)
		return 1;
	if (b == TEXT_EXTEND || b == TEXT_ZWJ || a == TEXT_PREPEND)
		return 1;
	if (a == TEXT_ZWJ && pict == 2 && b_pict)
		return 1;
	return a == TEXT_RI && b == TEXT_RI && ri % 2 == 1;
}

/* End of the grapheme cluster that starts at s[pos], pos < len. */
static size_t text_cluster_end(const unsigned char *s, size_t len, size_t pos)
{
	uint32_t cp;
	size_t n = text_decode(s + pos, len - pos, &cp), ri;
	text_gcb prev = text_class(cp);
	int pict = text_pictograph(cp);

	ri = prev == TEXT_RI;
	for (pos += n; pos < len; pos += n) {
		text_gcb next;
		int next_pict;

		n = text_decode(s + pos, len - pos, &cp);
		next = text_class(cp);
		next_pict = text_pictograph(cp);
		if (!text_joins(prev, next, next_pict, pict, ri))
			break;
		if (next == TEXT_EXTEND)
			pict = pict == 1 && text_emoji_part(cp); /* marks of other kinds: break (count more) */
		else if (next == TEXT_ZWJ)
			pict = pict == 1 ? 2 : 0;
		else
			pict = next_pict;
		ri = next == TEXT_RI ? ri + 1 : 0;
		prev = next;
	}
	return pos;
}

/* Any space or line end, breaking or not. */
static int text_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == ' ' || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
	       cp == 0x3000;
}

/* A space a line may break at: a word boundary. */
static int text_break_space(uint32_t cp)
{
	return text_space(cp) && cp != 0xA0 && cp != 0x2007 && cp != 0x202F;
}

/* What is trimmed off the end of a cut text before the ellipsis. */
static int text_trimmable(uint32_t cp)
{
	return text_space(cp) || cp == ',' || cp == ';' || cp == ':' || cp == '-' || cp == 0x2013 || cp == 0x2014;
}

/* Kana and ideographs: scripts written without spaces, where any character
 * boundary is a word boundary. */
static int text_cjk(uint32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
	       (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* GSM 03.38 septets for cp: 1 in the basic table, 2 in the extension table
 * (escape + character), 0 when GSM-7 cannot carry it. */
static size_t text_gsm7(uint32_t cp)
{
	/* The basic table beyond ASCII: £¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà. */
	static const text_range basic[] = {
	    {0xA1, 0xA1},   {0xA3, 0xA5},   {0xA7, 0xA7},   {0xBF, 0xBF},   {0xC4, 0xC7},   {0xC9, 0xC9},
	    {0xD1, 0xD1},   {0xD6, 0xD6},   {0xD8, 0xD8},   {0xDC, 0xDC},   {0xDF, 0xE0},   {0xE4, 0xE6},
	    {0xE8, 0xE9},   {0xEC, 0xEC},   {0xF1, 0xF2},   {0xF6, 0xF6},   {0xF8, 0xF9},   {0xFC, 0xFC},
	    {0x393, 0x394}, {0x398, 0x398}, {0x39B, 0x39B}, {0x39E, 0x39E}, {0x3A0, 0x3A0}, {0x3A3, 0x3A3},
	    {0x3A6, 0x3A6}, {0x3A8, 0x3A9},
	};

	if (cp < 0x80) {
		if (cp == '\n' || cp == '\r')
			return 1;
		if (cp == '\f')
			return 2;
		/* @ $ _ are in the basic table (at other positions than ASCII's); ` is in neither. */
		if (cp < 0x20 || cp == 0x7F || cp == '`')
			return 0;
		return strchr("^{}\\[~]|", (int)cp) ? 2 : 1;
	}
	if (cp == 0x20AC) /* € */
		return 2;
	return TEXT_IN(basic, cp) ? 1 : 0;
}

static size_t text_x_weight(uint32_t cp)
{
	return cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
	               (cp >= 0x2032 && cp <= 0x2037)
	           ? 1
	           : 2;
}

/* X's weight of one grapheme cluster s[0..len). */
static size_t text_x_cluster(const unsigned char *s, size_t len)
{
	uint32_t first, cp;
	size_t pos = text_decode(s, len, &first), w;
	int emoji = text_pictograph(first) || (first >= 0x1F1E6 && first <= 0x1F1FF);

	/* A keycap: [0-9#*] U+FE0F U+20E3. */
	if (!emoji && len == pos + 6 && ((first >= '0' && first <= '9') || first == '#' || first == '*'))
		emoji = memcmp(s + pos, "\xEF\xB8\x8F\xE2\x83\xA3", 6) == 0;
	w = emoji ? 2 : text_x_weight(first);
	while (pos < len) {
		pos += text_decode(s + pos, len - pos, &cp);
		if (!emoji || !text_emoji_part(cp))
			w += text_x_weight(cp);
	}
	return w;
}

static int text_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int text_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || text_alpha(c);
}

/* Characters twitter-text takes inside a URL (domain, path and query). */
static int text_link_char(unsigned char c)
{
	return text_alnum(c) || (c && strchr("!*';:=+,.$/%#[]-_~&|@?()", c));
}

/* Characters a URL may end with in both twitter-text's path and query
 * grammars (anything else at the end is punctuation after the link). */
static int text_link_end_char(unsigned char c)
{
	return text_alnum(c) || (c && strchr("/=_#-", c));
}

/* A top-level domain twitter-text surely knows: any two letters (country
 * codes) or a common generic one. */
static int text_tld(const unsigned char *s, size_t n)
{
	static const char *const generic[] = {
	    "com",   "net",    "org",     "edu",     "gov",      "mil",       "int",     "info",  "biz",     "name",
	    "pro",   "app",    "dev",     "page",    "cloud",    "tech",      "online",  "site",  "xyz",     "top",
	    "club",  "shop",   "store",   "blog",    "news",     "live",      "link",    "email", "host",    "website",
	    "space", "social", "network", "systems", "services", "solutions", "digital", "group", "company", "global",
	    "world", "today",  "life",    "one",     "zone",     "tools",     "run",     "works", "media",   "agency",
	};

	for (size_t i = 0; i < n; i++)
		if (!text_alpha(s[i]))
			return 0;
	if (n == 2)
		return 1;
	for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		if (strlen(generic[i]) == n && strncasecmp(generic[i], (const char *)s, n) == 0)
			return 1;
	return 0;
}

/* Dot-separated labels of ASCII letters, digits and hyphens ending in a
 * known top-level domain. */
static int text_known_host(const unsigned char *s, size_t n)
{
	size_t label = 0;
	int dots = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (i == label)
				return 0;
			label = i + 1;
			dots++;
		} else if (!text_alnum(s[i]) && s[i] != '-') {
			return 0;
		}
	}
	return dots > 0 && label < n && text_tld(s + label, n - label);
}

/* twitter-text's rule for what may come right before a link. */
static int text_link_may_start(const unsigned char *s, size_t pos)
{
	unsigned char c;

	if (pos == 0)
		return 1;
	c = s[pos - 1];
	if (c < 0x80)
		return !text_alnum(c) && c != '@' && c != '$' && c != '#';
	/* Fullwidth ＃ and ＠, and the bidirectional embedding controls U+202A-202E. */
	if (pos >= 3 && s[pos - 3] == 0xEF && s[pos - 2] == 0xBC && (c == 0x83 || c == 0xA0))
		return 0;
	return !(pos >= 3 && s[pos - 3] == 0xE2 && s[pos - 2] == 0x80 && c >= 0xAA && c <= 0xAE);
}

static size_t text_count(const unsigned char *s, size_t len, crier_measure m, int links);

/* The larger of a link's 23 and its plain length. */
static size_t text_maybe_link(const unsigned char *s, size_t len, crier_measure m)
{
	size_t plain = text_count(s, len, m, 0);

	return plain > TEXT_LINK_UNITS ? plain : TEXT_LINK_UNITS;
}

/*
 * A link at s[pos] (see the comment at the top): returns its end and, when
 * units is not NULL, sets *units to what it counts in m; returns pos when
 * there is none. Bare domains only when bare is set (X).
 */
static size_t text_link(const unsigned char *s, size_t len, size_t pos, crier_measure m, int bare, size_t *units)
{
	size_t p = pos, label, end;
	int dots = 0;

	if ((s[pos] != 'h' && s[pos] != 'H' && !(bare && text_alnum(s[pos]))) || !text_link_may_start(s, pos))
		return pos;
	if (len - pos >= 8 && strncasecmp((const char *)s + pos, "https://", 8) == 0)
		p = pos + 8;
	else if (len - pos >= 7 && strncasecmp((const char *)s + pos, "http://", 7) == 0)
		p = pos + 7;
	if (p > pos) {
		size_t u = p, host = p, n;
		uint32_t cp = 0;

		/* u: the part twitter-text can take. */
		while (u < len && text_link_char(s[u]))
			u++;
		while (u > p && !text_link_end_char(s[u - 1]))
			u--;
		while (host < u && !strchr("/?#:", s[host]))
			host++;
		if (u < len)
			text_decode(s + u, len - u, &cp);
		/* A host cut short by a non-ASCII letter is an IDN: not sure. */
		if (text_known_host(s + p, host - p) && !(host == u && cp >= 0x80 && !text_space(cp))) {
			if (units)
				*units = TEXT_LINK_UNITS;
			return u;
		}
		/* Not sure: the whole token, to the next space. */
		for (end = u; end < len; end += n) {
			n = text_decode(s + end, len - end, &cp);
			if (text_space(cp))
				break;
		}
		while (end > p && !text_link_end_char(s[end - 1]))
			end--;
		if (end == p)
			return pos; /* nothing after the scheme */
		if (units)
			*units = text_maybe_link(s + pos, end - pos, m);
		return end;
	}
	if (!bare || (pos > 0 && s[pos - 1] && strchr("-_./", s[pos - 1])))
		return pos;
	label = p;
	for (;;) {
		while (p < len && (text_alnum(s[p]) || s[p] == '-'))
			p++;
		if (p == label)
			return pos;
		if (p + 1 >= len || s[p] != '.' || !text_alnum(s[p + 1]))
			break;
		label = ++p;
		dots++;
	}
	if (!dots || !text_tld(s + label, p - label))
		return pos;
	if (p < len && (s[p] == ':' || s[p] == '/')) {
		end = p;
		while (end < len && text_link_char(s[end]))
			end++;
		while (end > p && !text_link_end_char(s[end - 1]))
			end--;
		p = end;
	}
	if (units)
		*units = text_maybe_link(s + pos, p - pos, m);
	return p;
}

/* s[0..len) in units of m; links counted as such only when links is set. */
static size_t text_count(const unsigned char *s, size_t len, crier_measure m, int links)
{
	size_t units = 0, pos = 0, n;
	uint32_t cp;

	switch (m) {
	case CRIER_MEASURE_BYTES:
		return len;
	case CRIER_MEASURE_CODEPOINTS:
	case CRIER_MEASURE_UTF16:
	case CRIER_MEASURE_GSM7:
		for (; pos < len; pos += n) {
			n = text_decode(s + pos, len - pos, &cp);
			if (m == CRIER_MEASURE_GSM7) {
				size_t septets = text_gsm7(cp);

				if (!septets)
					return SIZE_MAX;
				units += septets;
			} else {
				units += m == CRIER_MEASURE_UTF16 && cp > 0xFFFF ? 2 : 1;
			}
		}
		return units;
	case CRIER_MEASURE_GRAPHEMES:
	case CRIER_MEASURE_MASTODON:
	case CRIER_MEASURE_X:
		while (pos < len) {
			size_t end = pos, link = 0;

			if (links && m != CRIER_MEASURE_GRAPHEMES)
				end = text_link(s, len, pos, m, m == CRIER_MEASURE_X, &link);
			if (end > pos) {
				units += link;
			} else {
				end = text_cluster_end(s, len, pos);
				units += m == CRIER_MEASURE_X ? text_x_cluster(s + pos, end - pos) : 1;
			}
			pos = end;
		}
		return units;
	}
	return SIZE_MAX;
}

size_t text_measure(const char *s, crier_measure m)
{
	if (!s)
		return 0;
	return text_count((const unsigned char *)s, strlen(s), m, 1);
}

/* Whether the occurrence of keep (k bytes) at p in s stands on its own: on
 * code point boundaries, and not the start of a longer word or link
 * ("https://x/3" is not in "https://x/35"). */
static int text_keep_alone(const char *s, const char *p, const char *keep, size_t k)
{
	unsigned char before = p > s ? (unsigned char)p[-1] : 0, after = (unsigned char)p[k];
	unsigned char first = (unsigned char)keep[0], last = (unsigned char)keep[k - 1];

	if ((first >= 0x80 && first <= 0xBF) || (after >= 0x80 && after <= 0xBF))
		return 0;
	if (text_alnum(first) && text_alnum(before))
		return 0;
	if ((text_alnum(last) || strchr("-_/=&#%~+", last)) &&
	    (text_alnum(after) || (after && strchr("-_/?=&#%~+@", after))))
		return 0;
	return 1;
}

static int text_ascii_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Where a cut may go: before the cluster or link at pos. */
typedef struct text_cut {
	size_t pos;
	size_t floor; /* the end of the last link before pos: trimming stops there */
} text_cut;

typedef struct text_fitter {
	const unsigned char *rest; /* s without keep */
	size_t len;
	crier_measure m;
	size_t limit;
	const char *ellipsis;
	const char *keep; /* NULL when not found in s */
	char *buf;
	text_cut *cuts;
	size_t n_cuts;
	size_t *words; /* indexes into cuts of the word boundaries after some text */
	size_t n_words;
} text_fitter;

/* The end of rest[0..to) without the trailing spaces and punctuation after
 * from. */
static size_t text_trim(const unsigned char *s, size_t from, size_t to)
{
	size_t end = from, n;
	uint32_t cp;

	for (size_t pos = from; pos < to; pos += n) {
		n = text_decode(s + pos, to - pos, &cp);
		if (!text_trimmable(cp))
			end = pos + n;
	}
	return end;
}

/* Write rest[0..body), then the ellipsis when cut, then " " and keep (no
 * space when there is nothing before it) into f->buf; returns whether that
 * fits. */
static int text_try(text_fitter *f, size_t body, int cut)
{
	size_t n = body, units;

	memcpy(f->buf, f->rest, body);
	if (cut) {
		strcpy(f->buf + n, f->ellipsis);
		n += strlen(f->ellipsis);
	}
	if (f->keep) {
		if (n > 0)
			f->buf[n++] = ' ';
		strcpy(f->buf + n, f->keep);
	} else {
		f->buf[n] = '\0';
	}
	units = text_measure(f->buf, f->m);
	return units != SIZE_MAX && units <= f->limit;
}

static int text_try_cut(text_fitter *f, size_t i)
{
	return text_try(f, text_trim(f->rest, f->cuts[i].floor, f->cuts[i].pos), 1);
}

/* The largest i < n whose cut (cuts[idx[i]], or cuts[i] without idx) fits,
 * or n when none does. Only an index that was tried and fitted comes back,
 * even if longer texts do not always measure more. */
static size_t text_search(text_fitter *f, const size_t *idx, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (text_try_cut(f, idx ? idx[mid] : mid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? n : lo - 1;
}

/* Every place rest may be cut at: cluster boundaries outside links. */
static int text_find_cuts(text_fitter *f)
{
	size_t pos = 0, floor = 0;
	int text = 0, prev_cjk = 0;

	f->cuts = malloc((f->len + 1) * sizeof(*f->cuts));
	f->words = malloc((f->len + 1) * sizeof(*f->words));
	if (!f->cuts || !f->words)
		return -1;
	while (pos < f->len) {
		size_t end = text_link(f->rest, f->len, pos, f->m, f->m == CRIER_MEASURE_X, NULL);
		uint32_t cp;
		int cjk;

		text_decode(f->rest + pos, f->len - pos, &cp);
		cjk = text_cjk(cp);
		if (text && (text_break_space(cp) || cjk || prev_cjk))
			f->words[f->n_words++] = f->n_cuts;
		f->cuts[f->n_cuts++] = (text_cut){pos, floor};
		if (end > pos) {
			floor = end;
			text = 1;
			prev_cjk = 0;
		} else {
			end = text_cluster_end(f->rest, f->len, pos);
			for (size_t p = pos, n; p < end; p += n) {
				n = text_decode(f->rest + p, end - p, &cp);
				text |= !text_trimmable(cp);
			}
			prev_cjk = cjk;
		}
		pos = end;
	}
	return 0;
}

char *text_fit(const char *s, crier_measure m, size_t limit, const char *keep)
{
	text_fitter f = {.m = m, .limit = limit, .ellipsis = m == CRIER_MEASURE_GSM7 ? "..." : "\xE2\x80\xA6"};
	const char *found = NULL, *after;
	char *rest = NULL, *out = NULL;
	size_t units = text_measure(s, m), k = keep ? strlen(keep) : 0, before, best;

	if (!s || (unsigned)m > CRIER_MEASURE_UTF16)
		return NULL;
	if (units != SIZE_MAX && units <= limit)
		return strdup(s);
	for (const char *p = k ? strstr(s, keep) : NULL; p; p = strstr(p + 1, keep))
		if (text_keep_alone(s, p, keep, k))
			found = p;
	/* rest: s without keep and the spaces before it. */
	before = found ? (size_t)(found - s) : strlen(s);
	while (found && before > 0 && text_ascii_space(s[before - 1]))
		before--;
	after = found ? found + k : s + before;
	while (found && before == 0 && text_ascii_space(*after))
		after++;
	f.len = before + strlen(after);
	rest = malloc(f.len + 1);
	f.buf = malloc(f.len + strlen(f.ellipsis) + 1 + k + 1);
	if (!rest || !f.buf)
		goto out;
	memcpy(rest, s, before);
	strcpy(rest + before, after);
	f.rest = (const unsigned char *)rest;
	f.keep = found ? keep : NULL;
	if (!text_try(&f, 0, 1))
		goto out;
	/* Moving keep to the end may be enough. */
	if (found) {
		size_t body = f.len;

		while (body > 0 && text_ascii_space(rest[body - 1]))
			body--;
		if (text_try(&f, body, 0))
			goto done;
	}
	if (text_find_cuts(&f) != 0)
		goto out;
	best = text_search(&f, f.words, f.n_words);
	if (best < f.n_words)
		text_try_cut(&f, f.words[best]);
	else if ((best = text_search(&f, NULL, f.n_cuts)) < f.n_cuts)
		text_try_cut(&f, best); /* no word fits whole: cut inside the first one */
	else
		text_try(&f, 0, 1); /* nothing before the ellipsis */
done:
	out = f.buf;
	f.buf = NULL;
out:
	free(f.buf);
	free(f.cuts);
	free(f.words);
	free(rest);
	return out;
}

const char *text_html_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

void text_join(char *buf, size_t size, const char *const *list)
{
	size_t n = 0;

	while (list[n])
		n++;
	crier_join(buf, size, list, n);
}

void text_utf8_copy(char *dst, size_t size, const char *src)
{
	size_t len = src ? strlen(src) : 0, i = 0, o = 0;

	if (size == 0)
		return;
	while (i < len) {
		size_t n = ingest_util_utf8_char((const unsigned char *)src + i, len - i);
		if (o + (n ? n : 1) > size - 1)
			break;
		if (n == 0) {
			dst[o++] = '?';
			i++;
		} else {
			memcpy(dst + o, src + i, n);
			o += n;
			i += n;
		}
	}
	dst[o] = '\0';
}
