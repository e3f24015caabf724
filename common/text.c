/* text.c - see text.h. */
#include "herald/text.h"

#include <stdio.h>
#include <stdlib.h>

#include "herald/plugin.h"

int text_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int text_pct_decode(const char *s, size_t n, char **out, size_t *len)
{
	char *d = malloc(n + 1);
	size_t j = 0;

	*out = NULL;
	if (!d)
		return HERALD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			d[j++] = s[i];
		} else if (i + 2 < n && text_hexval(s[i + 1]) >= 0 && text_hexval(s[i + 2]) >= 0) {
			d[j++] = (char)(text_hexval(s[i + 1]) * 16 + text_hexval(s[i + 2]));
			i += 2;
		} else {
			free(d);
			return HERALD_EINVAL;
		}
	}
	d[j] = '\0';
	*out = d;
	*len = j;
	return 0;
}

size_t text_json_escape(char *out, size_t cap, const char *s, unsigned flags)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int ctl = c < 0x20 || ((flags & TEXT_ASCII) && c == 0x7f);
		size_t need = ctl ? 6 : c == '"' || c == '\\' ? 2 : 1;

		if (n + need >= cap)
			break;
		if (ctl) {
			snprintf(out + n, 7, "\\u%04x", c);
		} else if (need == 2) {
			out[n] = '\\';
			out[n + 1] = (char)c;
		} else {
			out[n] = (flags & TEXT_ASCII) && c >= 0x80 ? '?' : (char)c;
		}
		n += need;
	}
	if (cap)
		out[n] = '\0';
	return n;
}
