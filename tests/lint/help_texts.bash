# SPDX-License-Identifier: GPL-2.0
# tests/lint/help_texts.bash - sourced by manpages.sh and completion.sh: what
# the binary's own --help texts say it takes, so no test keeps a list.
#
#   help_objects            the objects of `xdpfence --help`
#   help_verbs OBJ          OBJ's verbs (none for an object without verbs)
#   help_text OBJ [VERB]    the --help text of OBJ (VERB)
#   help_options < TEXT     the options a help text names, one a line
#
# Needs XF (the binary) and nopin (a pin dir that does not exist: no help
# command can touch a real instance). Not a suite: run.sh runs *.sh only.

help_text() { timeout 10 "$XF" --pin-dir "$nopin" "$@" --help 2>&1; }

help_objects() {
	help_text | awk '/^Objects:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }'
}

help_verbs() {
	help_text "$1" | grep -oE "^ *(usage: *)?xdpfence $1 [a-z][a-z-]*( |$)" | awk '{ print $NF }' | sort -u
}

# the options a help text names, error lines aside ("xdpfence: no interface
# \"--help\"", "list: unrecognized option '--help'")
help_options() {
	grep -vE '^(xdpfence: |[a-z]+: (unrecognized|invalid) option)' |
		grep -oE '(^|[][ |,(/])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[][ |,(/]//' |
		grep -E '^(--[a-z][a-z0-9-]+|-[a-zA-Z])$' | sort -u
}
