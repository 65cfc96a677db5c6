# Debian's dynamically linked coreutils on tidemark: each command is the package's own binary,
# loaded with glibc's loader and libraries from the root file system. Run by busybox sh as the
# first process; each section starts with a "== name" line that tests/busybox.rs checks.
export PATH=/bin:/usr/bin
echo "== true"; /bin/true && echo true-ok
echo "== false"; /bin/false || echo "false-status $?"
echo "== echo"; /bin/echo hello from coreutils
echo "== uname"; /bin/uname -sm
echo "== ls"; /bin/ls /bin | /usr/bin/head -n 3
echo "== ls-l"; /bin/ls -ld / /proc | /usr/bin/cut -c1
echo "== sort"; printf 'pear\napple\nfig\n' | /usr/bin/sort
echo "== wc"; printf 'one two\nthree\n' | /usr/bin/wc -lw
echo "== sha256sum"; printf 'abc' | /usr/bin/sha256sum
echo "== factor"; /usr/bin/factor 1234567890
echo "== seq"; /usr/bin/seq 1 5 | /usr/bin/paste -sd+
echo "== cat"; /bin/echo through cat > /tmp/c && /bin/cat /tmp/c
echo "== date"; /bin/date -u -d @0 +%Y-%m-%d
echo "== stat"; /usr/bin/stat -c '%F' /tmp
echo "== maps"; /bin/cat /proc/self/maps | /usr/bin/tr -s ' ' | /usr/bin/cut -d' ' -f6 | /usr/bin/sort -u
echo "== redirect-maps"; /usr/bin/tr -s ' ' < /proc/self/maps | /usr/bin/cut -d' ' -f6 | /usr/bin/sort -u
echo "== id"; /usr/bin/id -u
echo "== done"
