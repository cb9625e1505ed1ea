/* The Markdown subset (core/markdown.h): what each construct renders to,
 * that everything else is escaped text (raw HTML, entities, links to other
 * schemes), the publish check, quoting outside text into a draft, and that
 * hostile documents cost linear time. */
#include "check.h"
#include "markdown.h"

#include <stdlib.h>
#include <time.h>

/* Render s with heading offset off and compare with want. */
static void html_is(const char *s, int off, const char *want, int line)
{
	char *got = markdown_html(s, strlen(s), off);
	if (got && strcmp(got, want) == 0) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "test_markdown.c:%d: rendering %s\n  got:  %s\n  want: %s\n", line, s,
		        got ? got : "(null)", want);
	}
	free(got);
}

#define HTML(s, want)        html_is((s), 0, (want), __LINE__)
#define HTML_OFF(s, o, want) html_is((s), (o), (want), __LINE__)

static void test_blocks(void)
{
	HTML("", "");
	HTML("\n\n  \n", "");
	HTML("# Title", "<h1>Title</h1>\n");
	HTML("###### six ######  ", "<h6>six</h6>\n");
	HTML("####### seven", "<p>####### seven</p>\n");
	HTML("#hashtag", "<p>#hashtag</p>\n");
	HTML("## ends with # and C#", "<h2>ends with # and C#</h2>\n");
	HTML("## closed ##", "<h2>closed</h2>\n");
	HTML_OFF("# one\n## two\n##### five\n###### six", 1,
	         "<h2>one</h2>\n<h3>two</h3>\n<h6>five</h6>\n<h6>six</h6>\n");
	HTML("one\ntwo\r\n\r\nthree", "<p>one\ntwo</p>\n<p>three</p>\n");
	HTML("para\n# heading\nmore", "<p>para</p>\n<h1>heading</h1>\n<p>more</p>\n");
	/* Fences: content verbatim and escaped, the info string dropped. */
	HTML("```sh\nif [ $a < 3 ]; then echo \"<b>\" & fi\n\n*not em*\n```\nafter",
	     "<pre><code>if [ $a &lt; 3 ]; then echo &quot;&lt;b&gt;&quot; &amp; fi\n\n*not em*\n</code></pre>\n"
	     "<p>after</p>\n");
	HTML("~~~\n```\n~~~", "<pre><code>```\n</code></pre>\n");
	HTML("```\nnever closed\n<script>", "<pre><code>never closed\n&lt;script&gt;\n</code></pre>\n");
	HTML("  ```\n  indented\n    more\n  ```", "<pre><code>indented\n  more\n</code></pre>\n");
	HTML("``` a`b\nx", "<p>``` a`b\nx</p>\n");
}

static void test_lists(void)
{
	HTML("- a\n- b\n+ c", "<ul>\n<li>a</li>\n<li>b</li>\n<li>c</li>\n</ul>\n");
	HTML("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n");
	HTML("3) three\n4) four", "<ol start=\"3\">\n<li>three</li>\n<li>four</li>\n</ol>\n");
	/* A line right after an item continues it; after a blank line it does not. */
	HTML("- a\ncontinued\n\n- b\n\nafter", "<ul>\n<li>a\ncontinued</li>\n<li>b</li>\n</ul>\n<p>after</p>\n");
	HTML("- a\n  - b\n    - c\n  - d\n- e",
	     "<ul>\n<li>a<ul>\n<li>b<ul>\n<li>c</li>\n</ul>\n</li>\n<li>d</li>\n</ul>\n</li>\n<li>e</li>\n</ul>\n");
	HTML("1. a\n   - b\n2. c", "<ol>\n<li>a<ul>\n<li>b</li>\n</ul>\n</li>\n<li>c</li>\n</ol>\n");
	HTML("- a\n1. b", "<ul>\n<li>a</li>\n</ul>\n<ol>\n<li>b</li>\n</ol>\n");
	HTML("text\n- item", "<p>text</p>\n<ul>\n<li>item</li>\n</ul>\n");
	HTML("- a\n# h", "<ul>\n<li>a</li>\n</ul>\n<h1>h</h1>\n");
	HTML("-\n- x", "<ul>\n<li></li>\n<li>x</li>\n</ul>\n");
	/* Not items: no blank after the marker. */
	HTML("-1 degrees\n2024-05-01 deploy\n1.5 s\n**bold** start",
	     "<p>-1 degrees\n2024-05-01 deploy\n1.5 s\n<strong>bold</strong> start</p>\n");
	/* Nesting stops at eight levels; deeper items stay at the eighth. */
	char deep[512] = "";
	for (int i = 0; i < 10; i++) {
		char line[64];
		snprintf(line, sizeof(line), "%*s- %d\n", i * 2, "", i);
		strcat(deep, line);
	}
	char *h = markdown_html(deep, strlen(deep), 0);
	int opens = 0;
	for (const char *p = h; p && (p = strstr(p, "<ul>")); p++)
		opens++;
	CHECK(h != NULL && opens == 8);
	CHECK(h != NULL && strstr(h, "<li>8</li>\n<li>9</li>") != NULL);
	free(h);
}

static void test_inline(void)
{
	HTML("*em* _em_ **strong** __strong__",
	     "<p><em>em</em> <em>em</em> <strong>strong</strong> <strong>strong</strong></p>\n");
	HTML("***both***", "<p><em><strong>both</strong></em></p>\n");
	HTML("*a **b** c*", "<p><em>a <strong>b</strong> c</em></p>\n");
	HTML("**a *b* c**", "<p><strong>a <em>b</em> c</strong></p>\n");
	HTML("_a *b* c_", "<p><em>a <em>b</em> c</em></p>\n");
	HTML("**unclosed *and", "<p>**unclosed *and</p>\n");
	HTML("*a **b*", "<p>*a *<em>b</em></p>\n");
	HTML("snake_case_name and 2*3*4", "<p>snake_case_name and 2<em>3</em>4</p>\n");
	HTML("* not em *", "<ul>\n<li>not em *</li>\n</ul>\n");
	HTML("a * b * c", "<p>a * b * c</p>\n");
	HTML("`code <b>` and `` a ` b `` and ` x",
	     "<p><code>code &lt;b&gt;</code> and <code>a ` b</code> and ` x</p>\n");
	HTML("`*not em*` *em `code` em*", "<p><code>*not em*</code> <em>em <code>code</code> em</em></p>\n");
	HTML("`multi\nline`", "<p><code>multi line</code></p>\n");
	HTML("\\*not\\* \\<b\\> \\\\ \\a", "<p>*not* &lt;b&gt; \\ \\a</p>\n");
	HTML("\\`not code`", "<p>`not code`</p>\n");
}

static void test_links(void)
{
	HTML("[docs](https://example.com/a_b?x=1&y=2)",
	     "<p><a href=\"https://example.com/a_b?x=1&amp;y=2\">docs</a></p>\n");
	HTML("[*the* `docs`](http://x.example)",
	     "<p><a href=\"http://x.example\"><em>the</em> <code>docs</code></a></p>\n");
	HTML("[mail](mailto:ops@example.com) [up](HTTPS://EXAMPLE.COM)",
	     "<p><a href=\"mailto:ops@example.com\">mail</a> <a href=\"HTTPS://EXAMPLE.COM\">up</a></p>\n");
	/* Other schemes, paths and broken forms are text. */
	HTML("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n");
	HTML("[x](javascript:alert)", "<p>[x](javascript:alert)</p>\n");
	HTML("[x](JaVaScRiPt:alert)", "<p>[x](JaVaScRiPt:alert)</p>\n");
	HTML("[x](data:text/html,<script>)", "<p>[x](data:text/html,&lt;script&gt;)</p>\n");
	HTML("[x](/relative) [y](https://) [z]( https://a.b) [w](https://a.b \"t\")",
	     "<p>[x](/relative) [y](https://) [z]( https://a.b) [w](https://a.b &quot;t&quot;)</p>\n");
	HTML("[x](https://a.b\"onmouseover=alert(1))", "<p>[x](https://a.b&quot;onmouseover=alert(1))</p>\n");
	HTML("[[x](https://a.b)]", "<p>[<a href=\"https://a.b\">x</a>]</p>\n");
	HTML("[a [b](https://a.b)", "<p>[a <a href=\"https://a.b\">b</a></p>\n");
	/* Emphasis does not cross a link's edge. */
	HTML("*a [b*](https://a.b)", "<p>*a <a href=\"https://a.b\">b*</a></p>\n");
}

static void test_escaping(void)
{
	HTML("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n");
	HTML("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n");
	HTML("\"quotes\" & 'apostrophes' &copy; &#60;",
	     "<p>&quot;quotes&quot; &amp; &#39;apostrophes&#39; &amp;copy; &amp;#60;</p>\n");
	HTML("# <b>head</b>", "<h1>&lt;b&gt;head&lt;/b&gt;</h1>\n");
	HTML("- <i>item</i>", "<ul>\n<li>&lt;i&gt;item&lt;/i&gt;</li>\n</ul>\n");
	HTML("**<b>**", "<p><strong>&lt;b&gt;</strong></p>\n");
	char *h = markdown_html("a\0b", 3, 0);
	CHECK(h != NULL && strcmp(h, "<p>a\xEF\xBF\xBD"
	                             "b</p>\n") == 0);
	free(h);
	h = markdown_html("caf\xc3\xa9 \xff", 7, 0);
	CHECK(h != NULL && strcmp(h, "<p>caf\xc3\xa9 \xff</p>\n") == 0);
	free(h);
}

static void test_check(void)
{
	char err[256];
	CHECK(markdown_check("# ok\r\n\ttabbed \xe2\x9c\x93\n", 18, 100, "f.md", err, sizeof(err)) == 0);
	CHECK(markdown_check("", 0, 100, "f.md", err, sizeof(err)) < 0);
	CHECK_STR(err, "f.md is empty");
	CHECK(markdown_check("abcdef", 6, 5, "f.md", err, sizeof(err)) < 0);
	CHECK_STR(err, "f.md is 6 bytes, over the limit of 5 bytes (0 KiB)");
	CHECK(markdown_check("ab\xff", 3, 100, "f.md", err, sizeof(err)) < 0);
	CHECK_STR(err, "f.md is not UTF-8 text (byte 0xff at offset 2)");
	CHECK(markdown_check("ab\xc3", 3, 100, "f.md", err, sizeof(err)) < 0);
	CHECK_STR(err, "f.md is not UTF-8 text (byte 0xc3 at offset 2)");
	CHECK(markdown_check("\xed\xa0\x80", 3, 100, "f.md", err, sizeof(err)) < 0); /* a surrogate */
	CHECK(markdown_check("a\x1b[31m", 6, 100, "f.md", err, sizeof(err)) < 0);
	CHECK_STR(err, "f.md holds a control character (byte 0x1b at offset 1); a post-mortem is plain text");
	CHECK(markdown_check("a\0b", 3, 100, "f.md", err, sizeof(err)) < 0);
	CHECK(markdown_check("a\xc2\x9b", 3, 100, "f.md", err, sizeof(err)) < 0); /* C1 CSI */
	CHECK(strstr(err, "byte 0x9b at offset 1") != NULL);
	CHECK(markdown_check("a\x7f", 2, 100, "f.md", err, sizeof(err)) < 0);
}

static void test_literal(void)
{
	char *q = markdown_literal("API *errors* <b>_x_</b> [link](u) `c` \\ #1\nnext\tcol\x01!");
	CHECK_STR(q, "API \\*errors\\* \\<b\\>\\_x\\_\\</b\\> \\[link\\](u) \\`c\\` \\\\ #1 next col!");
	/* Quoted text renders back to itself. */
	char *h = q ? markdown_html(q, strlen(q), 0) : NULL;
	CHECK_STR(h, "<p>API *errors* &lt;b&gt;_x_&lt;/b&gt; [link](u) `c` \\ #1 next col!</p>\n");
	free(h);
	free(q);
	q = markdown_literal("");
	CHECK_STR(q, "");
	free(q);
}

/* Documents built to make a careless parser quadratic: 256 KiB each, well under a second. */
static void test_linear(void)
{
	static const char *const units[] = {"*a ", "_a ", "[a", "[a](", "` ", "``a` ", "**a *", "[a](https://x ",
	                                    "\\`"};
	size_t n = 256 * 1024;
	char *doc = malloc(n + 1);
	if (!doc) {
		CHECK(0);
		return;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t k = strlen(units[u]);
		for (size_t i = 0; i < n; i++)
			doc[i] = units[u][i % k];
		doc[n] = '\0';
		clock_t start = clock();
		char *h = markdown_html(doc, n, 0);
		double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
		CHECK(h != NULL);
		if (secs > 1.0)
			fprintf(stderr, "test_markdown.c: \"%s\" x %zu took %.2f s\n", units[u], n / k, secs);
		CHECK(secs < 1.0);
		free(h);
	}
	free(doc);
}

int main(void)
{
	test_blocks();
	test_lists();
	test_inline();
	test_links();
	test_escaping();
	test_check();
	test_literal();
	test_linear();
	return check_summary("test_markdown");
}
