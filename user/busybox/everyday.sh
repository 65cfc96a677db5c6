# The commands people type first, run by Debian's busybox sh on tidemark as the first process.
# Each section starts with a "== name" line; tests/busybox.rs checks what each one prints.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
echo "== uname"; uname -sr
echo "== ls-root"; ls /
echo "== ls-l"; ls -ld /tmp /dev/null /proc
echo "== cd-pwd"; cd /tmp && pwd && cd / && pwd
echo "== files"
cd /tmp
mkdir work && cd work
echo hello > a && cat a
cp a b && mv b c && ln a hard && ln -s a soft
ls
cat soft
stat -c '%h %s %F' a
chmod 600 a && stat -c '%a' a
rm a && cat hard && cat soft 2>/dev/null || echo dangling
cd .. && rm -r work && ls /tmp | wc -l
echo "== pipes"; echo one two three | tr ' ' '\n' | sort -r | head -n 2
echo "== redirect"; echo line1 > /tmp/r; echo line2 >> /tmp/r; wc -l < /tmp/r; rm /tmp/r
echo "== script"
printf '#!/bin/sh\necho "script got $# args: $*"\n' > /tmp/s.sh && chmod +x /tmp/s.sh && /tmp/s.sh x y
echo "== subshell"; echo $(echo nested $(echo deeper))
echo "== find"; mkdir -p /tmp/f/g && touch /tmp/f/g/h && find /tmp/f | sort
echo "== ps"; ps | head -n 1
echo "== proc-self"; readlink /proc/self/exe; cat /proc/self/comm
echo "== meminfo"; head -n 2 /proc/meminfo
echo "== free"; free | head -n 2
echo "== mounts"; cat /proc/mounts
echo "== df"; df /proc | tail -n 1
echo "== dd"; dd if=/dev/zero of=/dev/null bs=1M count=100 2>&1 | tail -n 1
echo "== urandom"; head -c 16 /dev/urandom | wc -c
echo "== date"; date +%Y
echo "== time"; time true 2>&1
echo "== sleep"; sleep 1 & wait $! && echo waited
echo "== gzip"; echo compress me > /tmp/z && gzip /tmp/z && zcat /tmp/z.gz && rm /tmp/z.gz
echo "== sed-grep"; printf 'apple\nbanana\ncherry\n' | grep an | sed 's/an/AN/g'
echo "== awk"; echo 3 4 | awk '{ print $1 * $2 }'
echo "== env"; FOO=bar env | grep FOO
echo "== exit"; sh -c 'exit 3'; echo "status $?"
echo "== mount"; mkdir /tmp/sys && mount -t sysfs sysfs /tmp/sys && cat /tmp/sys/devices/system/cpu/online && mount | grep sysfs && umount /tmp/sys && rmdir /tmp/sys
echo "== fifo"; mkfifo /tmp/p && { echo through the fifo > /tmp/p & } && cat /tmp/p && wait && rm /tmp/p
echo "== end"
