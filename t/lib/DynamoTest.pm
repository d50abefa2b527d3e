package DynamoTest;

# DynamoTest.pm
#	Helpers for the TAP tests under t/: find the binaries, start and stop
#	throw-away dynamod nodes on free loopback ports, run dynamo-cli, speak
#	raw frames, and the checks that several test files share.
#
#	my $n = DynamoTest::Node->start(engine => 'wiredtiger');
#	my ($rc, $out, $err) = $n->cli('get', 'b', 'k', '--json');
#	$n->restart; $n->kill9; $n->stop;
#
#	Nodes are plaintext (--insecure) unless started with secure => 1: then
#	the node's directory gets a node key, an admin client key and a trust
#	file listing both (plus any trust => [[PUBKEY, ROLE, NAME], ...]), the
#	node runs with --key/--trust, and $n->cli uses the admin key.  Other
#	keys: my $pk = keygen($path); $n->cli_as($keyfile, @args).
#
#	Every node started here is stopped at exit (also when the test dies),
#	and its temporary directory removed, unless DYNAMO_KEEP=1 is set.
#	DYNAMO_BIN overrides the directory holding dynamod and dynamo-cli; the
#	programs are copied from there at first use, so a rebuild during the run
#	does not change them under the test.

use strict;
use warnings;

use Cwd qw(abs_path);
use Errno qw(EINTR);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Copy ();
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h _exit);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(
  bin free_port cli_at json_decode run_cmd keygen write_trust
  frame get_frame_body raw_connect read_frame decode_get_reply raw_get_many
  check_read_modify_write check_siblings check_delete
);

my $REPO = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..'));

# Nodes still running, by pid, for the END block.
my %LIVE;

$SIG{PIPE} = 'IGNORE';

# ---------------------------------------------------------------------------
# binaries, ports, processes

# The path of a program.  Each test file copies the programs once, at first
# use, into its own temporary directory, so that a rebuild in the tree during
# the run (make relinking build/dynamod) cannot pull a binary from under a
# test; a file changed less than 2 s ago is waited for (at most 120 s).
my %BIN;
my $BINDIR;

sub bin
{
	my ($name) = @_;
	return $BIN{$name} if $BIN{$name};
	my $dir = $ENV{DYNAMO_BIN} // File::Spec->catdir($REPO, 'build');
	my $path = File::Spec->catfile($dir, $name);
	my $start = time;
	while (1)
	{
		my @st = stat $path;
		last if @st && -x _ && $st[9] < time - 2;
		# missing for 10 s: not being relinked, just not built
		die "DynamoTest: $path is not an executable (build it, or set DYNAMO_BIN)\n"
		  if time - $start > (@st ? 120 : 10);
		sleep 0.5;
	}
	# not under /dev/shm, which may be mounted noexec
	$BINDIR //= tempdir('dynamo-bin-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
	my $copy = File::Spec->catfile($BINDIR, $name);
	File::Copy::copy($path, $copy) or die "DynamoTest: copy $path to $copy: $!\n";
	chmod 0755, $copy or die "DynamoTest: chmod $copy: $!\n";
	return $BIN{$name} = $copy;
}

# A port nothing listens on right now (the kernel picks it).
sub free_port
{
	my $s = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Proto     => 'tcp',
		Listen    => 1,
		ReuseAddr => 0) or die "DynamoTest: cannot bind a port: $!\n";
	my $port = $s->sockport;
	close $s;
	return $port;
}

sub slurp
{
	my ($path) = @_;
	open my $fh, '<:raw', $path or return '';
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s // '';
}

# Run a command (cmd => [...]) with optional stdin bytes (stdin => ...) and
# working directory (cwd => ...), stdout/stderr captured through files (no
# pipe deadlocks), at most timeout => S seconds (default 30; then SIGKILL).
# Returns (exit code, stdout, stderr); exit code -1 on timeout, 128+sig
# when killed by a signal.
# This test file's scratch directory (copied programs, cli output files):
# under /dev/shm when there is one, where the small files are cheaper.
my $SCRATCH;

sub scratch
{
	$SCRATCH //= tempdir('dynamo-test-XXXXXX', CLEANUP => !$ENV{DYNAMO_KEEP},
		(-d '/dev/shm' && -w '/dev/shm') ? (DIR => '/dev/shm') : (TMPDIR => 1));
	return $SCRATCH;
}

sub run_cmd
{
	my (%a) = @_;
	my @cmd = @{ $a{cmd} };
	my $timeout = $a{timeout} // 30;
	my $scratch = scratch();
	my ($inf, $outf, $errf) = map { "$scratch/$_.$$" } qw(in out err);

	if (defined $a{stdin})
	{
		open my $fh, '>:raw', $inf or die "DynamoTest: $inf: $!\n";
		print $fh $a{stdin};
		close $fh;
	}
	my $pid = fork // die "DynamoTest: fork: $!\n";
	if ($pid == 0)
	{
		chdir $a{cwd} or _exit(127) if defined $a{cwd};
		open STDIN, '<', (defined $a{stdin} ? $inf : '/dev/null') or _exit(127);
		open STDOUT, '>', $outf or _exit(127);
		open STDERR, '>', $errf or _exit(127);
		{ no warnings "exec"; exec { $cmd[0] } @cmd; }
		_exit(127);
	}
	# Block in waitpid; an alarm kills the child when it overstays.
	my $timed_out = 0;
	local $SIG{ALRM} = sub { $timed_out = 1; kill 'KILL', $pid };
	Time::HiRes::alarm($timeout);
	my $w;
	do { $w = waitpid($pid, 0) } while ($w == -1 && $! == EINTR);
	my $status = $?;
	Time::HiRes::alarm(0);
	my $rc = $timed_out ? -1
	  : WIFEXITED($status) ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
	my ($out, $err) = (slurp($outf), slurp($errf));
	unlink $inf, $outf, $errf;
	$err .= "DynamoTest: @cmd timed out after ${timeout}s\n" if $rc == -1;
	return ($rc, $out, $err);
}

# dynamo-cli against any address: cli_at('127.0.0.1:PORT', 'get', 'b', 'k').
# A leading hash ref holds options: { stdin => BYTES, timeout => S,
# key => FILE, trust => FILE, netns => NS }; without key the connection is
# --insecure; with netns the cli runs inside that network namespace.
sub cli_at
{
	my ($addr, @args) = @_;
	my $opt = ref $args[0] eq 'HASH' ? shift @args : {};
	my @auth = defined $opt->{key}
	  ? ('--key', $opt->{key}, (defined $opt->{trust} ? ('--trust', $opt->{trust}) : ()))
	  : ('--insecure');
	return run_cmd(
		cmd     => [ (defined $opt->{netns} ? ('ip', 'netns', 'exec', $opt->{netns}) : ()),
			bin('dynamo-cli'), '--node', $addr, @auth, @args ],
		stdin   => $opt->{stdin},
		timeout => $opt->{timeout} // 30);
}

# A new key file at $path (made by dynamod keygen); returns its public key.
sub keygen
{
	my ($path) = @_;
	my ($rc, $out, $err) = run_cmd(cmd => [ bin('dynamod'), 'keygen', '--out', $path ]);
	die "DynamoTest: dynamod keygen --out $path exited $rc: $err\n" if $rc != 0;
	chomp $out;
	die "DynamoTest: keygen printed \"$out\", not a public key\n"
	  unless $out =~ /^[A-Za-z0-9_-]{43}$/;
	return $out;
}

# Write a trust file: write_trust($path, [ [PUBKEY, ROLE, NAME], ... ], MODE).
sub write_trust
{
	my ($path, $entries, $mode) = @_;
	open my $fh, '>', $path or die "DynamoTest: $path: $!\n";
	print $fh "# written by DynamoTest\n";
	print $fh join(' ', @$_), "\n" for @$entries;
	close $fh or die "DynamoTest: $path: $!\n";
	chmod($mode // 0644, $path) or die "DynamoTest: chmod $path: $!\n";
}

my $JSON = JSON::PP->new->canonical->allow_nonref;

# Decode JSON text as printed by the tools (bytes in, byte strings out);
# undef (and a diag) when it is not JSON.
sub json_decode
{
	my ($text) = @_;
	my $v = eval { $JSON->decode($text) };
	diag("not JSON: $@ in: " . substr($text // '', 0, 300)) unless defined $v;
	return $v;
}

sub json_encode { return $JSON->encode($_[0]) }

# ---------------------------------------------------------------------------
# raw frames: u32 body_len | u8 type | u32 request_id | body, big-endian

sub frame
{
	my ($type, $reqid, $body) = @_;
	$body //= '';
	return pack('N C N', length $body, $type, $reqid) . $body;
}

# A GET body: u8 bucket_len, bucket, u16 key_len, key, u8 r.
sub get_frame_body
{
	my ($bucket, $key, $r) = @_;
	return pack('C/a* n/a* C', $bucket, $key, $r // 0);
}

# raw_connect(PORT) on loopback, or raw_connect('HOST:PORT').
sub raw_connect
{
	my ($port, $timeout) = @_;
	my $host = '127.0.0.1';
	($host, $port) = ($1, $2) if $port =~ /^(.*):(\d+)$/;
	my $s = IO::Socket::INET->new(
		PeerAddr => $host,
		PeerPort => $port,
		Proto    => 'tcp',
		Timeout  => $timeout // 5) or return undef;
	binmode $s;
	$s->autoflush(1);
	return $s;
}

# Read exactly $n bytes before the deadline: the bytes, or undef on EOF,
# error or timeout (then $$why says which).
sub read_exact
{
	my ($s, $n, $deadline, $why) = @_;
	my $buf = '';
	my $sel = IO::Select->new($s);
	while (length $buf < $n)
	{
		my $left = $deadline - time;
		if ($left <= 0) { $$why = 'timeout'; return undef }
		next unless $sel->can_read($left);
		my $got = sysread($s, $buf, $n - length $buf, length $buf);
		if (!defined $got)
		{
			next if $! == EINTR;
			$$why = "error: $!";
			return undef;
		}
		if ($got == 0) { $$why = 'eof'; return undef }
	}
	return $buf;
}

# One frame from a raw socket: { type, reqid, body }, or undef with $@ set to
# 'eof', 'timeout' or 'error: ...'.
sub read_frame
{
	my ($s, $timeout) = @_;
	my $deadline = time + ($timeout // 5);
	my $why;
	my $hdr = read_exact($s, 9, $deadline, \$why);
	if (!defined $hdr) { $@ = $why; return undef }
	my ($len, $type, $reqid) = unpack('N C N', $hdr);
	my $body = $len ? read_exact($s, $len, $deadline, \$why) : '';
	if (!defined $body) { $@ = $why; return undef }
	return { type => $type, reqid => $reqid, body => $body };
}

# Whether the peer closes the socket (EOF or reset) within $timeout
# seconds, reading and dropping whatever else it sends first.
sub wait_closed
{
	my ($s, $timeout) = @_;
	my $deadline = time + ($timeout // 5);
	my $sel = IO::Select->new($s);
	while (time < $deadline)
	{
		next unless $sel->can_read($deadline - time);
		my $buf;
		my $got = sysread($s, $buf, 65536);
		return 1 if !defined $got && $! != EINTR;
		return 1 if defined $got && $got == 0;
	}
	return 0;
}

# An error frame body: u16 code, u8 replied, u8 needed, then the message
# (u16 length + bytes); decoded leniently since only the code matters here.
sub decode_error
{
	my ($body) = @_;
	return undef if length $body < 4;
	my ($code, $replied, $needed) = unpack('n C C', $body);
	return { code => $code, replied => $replied, needed => $needed,
		message => substr($body, 4) };
}

sub read_varint
{
	my ($bytes, $pos) = @_;
	my ($v, $shift) = (0, 0);
	while (1)
	{
		die "short varint\n" if $$pos >= length $bytes;
		my $c = ord substr($bytes, $$pos++, 1);
		$v += ($c & 0x7f) * 2**$shift;
		return $v unless $c & 0x80;
		$shift += 7;
	}
}

# A GET reply body (u32 object length, then the object encoding of
# object.h) as [ { tombstone, value, vclock => { id => counter } } ... ];
# dies on malformed bytes.
sub decode_get_reply
{
	my ($body) = @_;
	die "short get reply\n" if length $body < 4;
	my $olen = unpack('N', $body);
	die "get reply length $olen does not match its body\n" if $olen != length($body) - 4;
	my $o = substr($body, 4);
	return [] if $olen == 0;
	my $pos = 0;
	my $take = sub {
		my ($n) = @_;
		die "truncated object\n" if $pos + $n > length $o;
		my $s = substr($o, $pos, $n);
		$pos += $n;
		return $s;
	};
	my ($format, $count) = unpack('C n', $take->(3));
	die "unknown object format $format\n" if $format != 1;
	my @sib;
	for (1 .. $count)
	{
		my ($flags, $dot) = unpack('C C', $take->(2));
		my $entries = unpack('C', $take->(1));
		my %vc;
		for (1 .. $entries)
		{
			my $idlen = unpack('C', $take->(1));
			my $id = $take->($idlen);
			$vc{$id} = read_varint($o, \$pos);
			read_varint($o, \$pos);    # timestamp
		}
		my $vlen = unpack('N', $take->(4));
		push @sib, { tombstone => $flags & 1, vclock => \%vc, value => $take->($vlen) };
	}
	die "trailing bytes after object\n" if $pos != length $o;
	return \@sib;
}

# GET many keys pipelined on one raw connection: returns a hash ref
# "bucket/key" => [ siblings as decode_get_reply gives them, tombstones
# included ], or undef (and a diag) when the exchange fails.
sub raw_get_many
{
	my ($port, @keys) = @_;
	my $s = raw_connect($port) or do { diag("raw connect to $port: $!"); return undef };
	my $req = '';
	my %by_id;
	my $id = 1;
	for my $k (@keys)
	{
		$by_id{$id} = "$k->[0]/$k->[1]";
		$req .= frame(0x01, $id++, get_frame_body(@$k));
	}
	my $off = 0;
	while ($off < length $req)
	{
		my $n = syswrite($s, $req, length($req) - $off, $off);
		if (!defined $n) { diag("raw write: $!"); return undef }
		$off += $n;
	}
	my %out;
	for (1 .. @keys)
	{
		my $f = read_frame($s, 10);
		if (!$f) { diag("raw get: reply missing ($@)"); return undef }
		if ($f->{type} != 0x81 || !exists $by_id{ $f->{reqid} })
		{
			diag(sprintf('raw get: unexpected reply type 0x%02x id %d', $f->{type}, $f->{reqid}));
			return undef;
		}
		my $sib = eval { decode_get_reply($f->{body}) };
		if (!$sib) { diag("raw get: $@"); return undef }
		$out{ delete $by_id{ $f->{reqid} } } = $sib;
	}
	close $s;
	return \%out;
}

# ---------------------------------------------------------------------------
# checks that several test files share (each runs inside a subtest)

sub _values { return [ sort map { $_->{value} } @{ $_[0]{siblings} } ] }

# 1. A read-modify-write loop with the returned context leaves one version.
sub check_read_modify_write
{
	my ($node, $times) = @_;
	$times //= 1000;
	my ($b, $k) = ('rmw', 'counter');
	my $ctx;
	my $bad = 0;
	for my $i (1 .. $times)
	{
		my ($rc, $out, $err) = $node->cli('put', $b, $k, "v$i",
			defined $ctx ? ('--context', $ctx) : ());
		chomp $out;
		if ($rc != 0 || $out eq '')
		{
			fail("put #$i exited $rc with context '$out': $err");
			$bad = 1;
			last;
		}
		$ctx = $out;
		if ($i == 1 || $i == int($times / 2))
		{
			my $g = $node->get($b, $k);
			is(scalar @{ $g->{siblings} // [] }, 1, "one version after $i writes");
		}
	}
	ok(!$bad, "$times context-chained puts all succeeded");
	my $g = $node->get($b, $k);
	is($g->{rc}, 0, 'get exits 0');
	is(scalar @{ $g->{siblings} }, 1, "exactly one version after $times writes")
	  or diag(json_encode($g));
	is($g->{siblings}[0]{value}, "v$times", 'it holds the last value');
	my $vc = $g->{siblings}[0]{vclock};
	is_deeply([ keys %$vc ], [ $node->{id} ], 'its clock has one entry, the node\'s')
	  or diag(json_encode($vc));
	cmp_ok($vc->{ $node->{id} } // 0, '>=', $times,
		'the counter grew with every write (a dot above every earlier one)');
	isnt($g->{context}, '', 'get prints a non-empty context');
}

# 2. Writes from one stale context become siblings; the merged context
#    collapses them.
sub check_siblings
{
	my ($node) = @_;
	my ($b, $k) = ('sib', 'cart');
	my $c0 = $node->put_ok($b, $k, 'base');
	my $ca = $node->put_ok($b, $k, 'A', $c0);
	my $cb = $node->put_ok($b, $k, 'B', $c0);
	isnt($ca, $cb, 'the two writes got different contexts');

	my $g = $node->get($b, $k);
	is_deeply(_values($g), [ 'A', 'B' ],
		'two writes from the same context: two siblings, the base superseded')
	  or diag(json_encode($g));
	my %clocks = map { json_encode($_->{vclock}) => 1 } @{ $g->{siblings} };
	is(scalar keys %clocks, 2, 'the siblings have different vclocks');

	$node->put_ok($b, $k, 'C', $c0);
	$g = $node->get($b, $k);
	is_deeply(_values($g), [ 'A', 'B', 'C' ], 'a third write from that old context: three siblings')
	  or diag(json_encode($g));
	%clocks = map { json_encode($_->{vclock}) => 1 } @{ $g->{siblings} };
	is(scalar keys %clocks, 3, 'three different vclocks');

	# A context covers exactly what it saw: A's own context supersedes A
	# (and the base) but not B or C.
	$node->put_ok($b, $k, 'A2', $ca);
	$g = $node->get($b, $k);
	is_deeply(_values($g), [ 'A2', 'B', 'C' ],
		'a write with the context of one sibling replaces only that sibling')
	  or diag(json_encode($g));

	my $merged = $g->{context};
	isnt($merged, $c0, 'get\'s context differs from the stale one');
	my $cm = $node->put_ok($b, $k, 'merged', $merged);
	$g = $node->get($b, $k);
	is_deeply(_values($g), ['merged'], 'a write with the merged context leaves one version')
	  or diag(json_encode($g));

	# The merged version's clock dominates every sibling it replaced.
	my $id = $node->{id};
	my $final = $g->{siblings}[0]{vclock}{$id} // 0;
	my $old_max = 0;
	for my $vc (map { json_decode($_) } keys %clocks)
	{
		$old_max = $vc->{$id} if ($vc->{$id} // 0) > $old_max;
	}
	cmp_ok($final, '>', $old_max, 'the merged version has a newer dot than every sibling');

	# A blind write (no context) covers nothing: it becomes a sibling.
	$node->put_ok($b, $k, 'blind');
	$g = $node->get($b, $k);
	is_deeply(_values($g), [ 'blind', 'merged' ], 'a blind write to a live key adds a sibling')
	  or diag(json_encode($g));

	# The context from put can be given back (read-modify-write after a
	# merge): supersedes 'merged' only.
	$node->put_ok($b, $k, 'merged2', $cm);
	$g = $node->get($b, $k);
	is_deeply(_values($g), [ 'blind', 'merged2' ], 'put\'s context supersedes only its own version')
	  or diag(json_encode($g));
}

# 3. Delete with the read context hides the key; a blind write revives it.
sub check_delete
{
	my ($node) = @_;
	my ($b, $k) = ('del', 'gone');
	$node->put_ok($b, $k, 'one');
	my $g = $node->get($b, $k);
	is($g->{rc}, 0, 'key is there before the delete');
	my $old = $g->{siblings}[0]{vclock}{ $node->{id} } // 0;

	my ($rc, $out, $err) = $node->cli('delete', $b, $k, '--context', $g->{context});
	is($rc, 0, 'delete with the context from get exits 0') or diag($err);
	chomp $out;
	isnt($out, '', 'delete prints a context');

	$g = $node->get($b, $k);
	is($g->{rc}, 1, 'get of the deleted key exits 1 (not found)');
	is_deeply($g->{siblings}, [], 'and lists no siblings');
	ok(defined $g->{context} && $g->{context} ne '',
		'but still prints a context (the tombstone\'s clock)');

	($rc, $out, $err) = $node->cli('get', $b, $k);
	is($rc, 1, 'plain-text get of the deleted key exits 1');
	like($out, qr/^context: \S+$/m, 'and prints the context line');

	$node->put_ok($b, $k, 'again');
	$g = $node->get($b, $k);
	is($g->{rc}, 0, 'a blind write after the delete makes the key live again');
	is_deeply(_values($g), ['again'], 'as a single version with the new value')
	  or diag(json_encode($g));
	cmp_ok($g->{siblings}[0]{vclock}{ $node->{id} } // 0, '>', $old,
		'with a new dot (above the deleted version\'s)');

	# Delete with the merged context of a key with two siblings hides both.
	my $c0 = $node->put_ok($b, 'pair', 'x');
	$node->put_ok($b, 'pair', 'y', $c0);
	$node->put_ok($b, 'pair', 'z', $c0);
	$g = $node->get($b, 'pair');
	is(scalar @{ $g->{siblings} }, 2, 'two siblings before deleting them');
	($rc, undef, $err) = $node->cli('delete', $b, 'pair', '--context', $g->{context});
	is($rc, 0, 'delete with the merged context exits 0') or diag($err);
	is($node->get($b, 'pair')->{rc}, 1, 'both siblings are gone');

	# A delete without a context covers nothing, so the live version stays.
	$node->put_ok($b, 'kept', 'still here');
	($rc, undef, $err) = $node->cli('delete', $b, 'kept');
	is($rc, 0, 'blind delete exits 0') or diag($err);
	$g = $node->get($b, 'kept');
	is_deeply([ $g->{rc}, _values($g) ], [ 0, ['still here'] ],
		'a blind delete does not hide a version it never saw')
	  or diag(json_encode($g));
}

# ---------------------------------------------------------------------------

# Capture the loopback traffic on @$ports into the file $pcap while $code
# runs: (pcap bytes, undef), or (undef, why) when tcpdump is missing or
# cannot capture here (tests skip then).  --immediate-mode writes packets as
# they come (not when a kernel buffer block fills, which can be after the
# SIGINT that stops it); -Z root keeps Debian's tcpdump from dropping to a
# user that may not write into the test's private directory.
sub capture_loopback
{
	my ($ports, $pcap, $code) = @_;
	my $tcpdump = (grep { -x } map { "$_/tcpdump" } split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/bin')[0];
	return (undef, 'tcpdump is not installed') unless $tcpdump;
	my $errf = "$pcap.err";
	my $pid = fork // die "fork: $!";
	if ($pid == 0)
	{
		open STDOUT, '>', '/dev/null';
		open STDERR, '>', $errf;
		my @cmd = ($tcpdump, '-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0',
			($> == 0 ? ('-Z', 'root') : ()), '-w', $pcap,
			join(' or ', map { "tcp port $_" } @$ports));
		{ no warnings 'exec'; exec { $cmd[0] } @cmd; }
		_exit(127);
	}
	my $deadline = time + 10;
	until (slurp($errf) =~ /listening on/)
	{
		if (waitpid($pid, WNOHANG) == $pid || time > $deadline)
		{
			kill 'KILL', $pid;
			waitpid($pid, 0);
			return (undef, 'tcpdump cannot capture on lo: ' . slurp($errf));
		}
		sleep 0.05;
	}
	$code->();
	sleep 0.5;
	kill 'INT', $pid;
	waitpid($pid, 0);
	my $bytes = slurp($pcap);
	diag('tcpdump: ' . slurp($errf)) if length $bytes <= 24;
	return ($bytes, undef);
}

# The TCP packets of a pcap (IPv4 on lo): [source port, destination port,
# payload] each.
sub pcap_tcp_packets
{
	my ($bytes) = @_;
	return () if length $bytes < 24;
	my $magic = unpack('V', $bytes);
	my $e = $magic == 0xa1b2c3d4 || $magic == 0xa1b23c4d ? 'V' : 'N';
	my $link = unpack($e, substr($bytes, 20, 4));
	my %l2 = (0 => 4, 1 => 14, 113 => 16, 276 => 20);
	my $l2 = $l2{$link} // return ();
	my @p;
	my $pos = 24;
	while ($pos + 16 <= length $bytes)
	{
		my $incl = unpack($e, substr($bytes, $pos + 8, 4));
		my $pkt = substr($bytes, $pos + 16, $incl);
		$pos += 16 + $incl;
		next if length $pkt < $l2 + 20;
		my $ip = substr($pkt, $l2);
		next if (ord($ip) >> 4) != 4 || ord(substr($ip, 9, 1)) != 6;
		my $ihl = (ord($ip) & 0x0f) * 4;
		my $tot = unpack('n', substr($ip, 2, 2));
		my $tcp = substr($ip, $ihl, $tot - $ihl);
		next if length $tcp < 20;
		my ($sp, $dp) = unpack('n n', $tcp);
		my $off = (ord(substr($tcp, 12, 1)) >> 4) * 4;
		push @p, [ $sp, $dp, substr($tcp, $off) ];
	}
	return @p;
}

package DynamoTest::Node;

use strict;
use warnings;

use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h _exit);
use Test::More;
use Time::HiRes qw(time sleep);

my $SEQ = 0;

# DynamoTest::Node->start(engine => ..., durability => ..., id => ...,
#                         args => [extra flags], timeout => 10,
#                         secure => 1, trust => [[PUBKEY, ROLE, NAME], ...])
# or, with keys of the caller's (nodes of one secure cluster):
#                         secure => 1, key_file => K, trust_file => T, admin_key => A
# In a network namespace of the partition harness (t/lib/Netns.pm):
#                         netns => NS, ip => ADDRESS (port 7700 unless port => P);
# the node runs under ip netns exec NS, and its own cli runs in NS too
# (its own address is never cut there).
sub start
{
	my ($class, %o) = @_;
	my $self = bless {
		id         => $o{id} // 'n' . ++$SEQ,
		engine     => $o{engine} // 'wiredtiger',
		durability => $o{durability},
		args       => $o{args} // [],
		timeout    => $o{timeout} // 10,
		secure     => $o{secure} ? 1 : 0,
		owner      => $$,
		netns      => $o{netns},
		ip         => $o{ip},
		port       => $o{port} // ($o{netns} ? 7700 : undef),
	}, $class;
	$self->{dir} = tempdir('dynamo-node-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
	$self->{data} = "$self->{dir}/data";
	$self->{log} = "$self->{dir}/dynamod.log";
	mkdir $self->{data} or die "DynamoTest: mkdir $self->{data}: $!\n";
	if ($self->{secure} && $o{key_file})
	{
		# keys made by the caller (a cluster whose nodes trust each other)
		$self->{key} = $o{key_file};
		$self->{trust} = $o{trust_file};
		$self->{admin_key} = $o{admin_key};
	}
	elsif ($self->{secure})
	{
		$self->{key} = "$self->{dir}/node.key";
		$self->{admin_key} = "$self->{dir}/admin.key";
		$self->{trust} = "$self->{dir}/trust";
		$self->{pubkey} = DynamoTest::keygen($self->{key});
		$self->{admin_pubkey} = DynamoTest::keygen($self->{admin_key});
		DynamoTest::write_trust($self->{trust}, [
				[ $self->{pubkey}, 'node', $self->{id} ],
				[ $self->{admin_pubkey}, 'admin', 'admin' ],
				@{ $o{trust} // [] } ]);
	}
	$self->_launch;
	return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub addr { ($_[0]{ip} // '127.0.0.1') . ":$_[0]{port}" }
sub netns { $_[0]{netns} }

sub _launch
{
	my ($self) = @_;
	$self->{port} = DynamoTest::free_port() unless $self->{port};
	my @cmd = (($self->{netns} ? ('ip', 'netns', 'exec', $self->{netns}) : ()),
		DynamoTest::bin('dynamod'),
		'--id', $self->{id}, '--listen', $self->addr, '--data', $self->{data},
		($self->{secure} ? ('--key', $self->{key}, '--trust', $self->{trust}) : ('--insecure')),
		'--engine', $self->{engine},
		(defined $self->{durability} ? ('--durability', $self->{durability}) : ()),
		@{ $self->{args} });
	$self->{cmd} = \@cmd;
	my $pid = fork // die "DynamoTest: fork: $!\n";
	if ($pid == 0)
	{
		chdir $self->{dir};    # a core dump, if any, lands in the temp dir
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $self->{log} or _exit(127);
		open STDERR, '>&', \*STDOUT or _exit(127);
		{ no warnings "exec"; exec { $cmd[0] } @cmd; }
		_exit(127);
	}
	$self->{pid} = $pid;
	$LIVE{$pid} = $self;

	my $deadline = time + $self->{timeout};
	while (1)
	{
		my ($rc) = $self->cli({ timeout => 2 }, 'status');
		return if $rc == 0;
		my $w = waitpid($pid, WNOHANG);
		if ($w == $pid)
		{
			delete $LIVE{$pid};
			$self->{pid} = undef;
			die sprintf("DynamoTest: dynamod %s exited with status %d while starting: %s\n%s",
				$self->{id}, $? >> 8, "@cmd", $self->log_tail);
		}
		if (time > $deadline)
		{
			$self->kill9;
			die "DynamoTest: dynamod $self->{id} did not answer status within "
			  . "$self->{timeout}s: @cmd\n" . $self->log_tail;
		}
		sleep 0.05;
	}
}

sub log_tail
{
	my ($self, $lines) = @_;
	$lines //= 30;
	my @l = split /\n/, DynamoTest::slurp($self->{log});
	@l = @l[-$lines .. -1] if @l > $lines;
	return join('', map { "  | $_\n" } @l);
}

sub alive
{
	my ($self) = @_;
	return 0 unless $self->{pid};
	return 0 if waitpid($self->{pid}, WNOHANG) == $self->{pid};
	return kill(0, $self->{pid}) ? 1 : 0;
}

# SIGTERM and wait (at most $timeout s, then SIGKILL).  Returns the exit
# status as waitpid's $? (0 for a clean exit), or -1 if it had to be killed.
sub stop
{
	my ($self, $timeout) = @_;
	my $pid = $self->{pid} or return 0;
	$timeout //= 10;
	kill 'TERM', $pid;
	my $deadline = time + $timeout;
	my $status;
	while (1)
	{
		my $w = waitpid($pid, WNOHANG);
		if ($w == $pid || $w == -1) { $status = $w == $pid ? $? : 0; last }
		if (time > $deadline)
		{
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$status = -1;
			last;
		}
		sleep 0.01;
	}
	delete $LIVE{$pid};
	$self->{pid} = undef;
	return $status;
}

sub kill9
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	kill 'KILL', $pid;
	waitpid($pid, 0);
	delete $LIVE{$pid};
	$self->{pid} = undef;
}

# Start again on the same data dir and port; %o may change engine,
# durability or args.
sub restart
{
	my ($self, %o) = @_;
	$self->stop if $self->{pid};
	for my $k (qw(engine durability args))
	{
		$self->{$k} = $o{$k} if exists $o{$k};
	}
	$self->_launch;
	return $self;
}

# dynamo-cli against this node: with its admin key when it is secure
# (the trust file beside the key lists the node), else --insecure.
sub cli
{
	my ($self, @args) = @_;
	return $self->cli_as($self->{admin_key}, @args) if $self->{secure};
	if ($self->{netns})
	{
		my $opt = ref $args[0] eq 'HASH' ? { %{ shift @args } } : {};
		$opt->{netns} //= $self->{netns};
		unshift @args, $opt;
	}
	return DynamoTest::cli_at($self->addr, @args);
}

# dynamo-cli with another key file (and --trust FILE: the node's own trust
# file unless given as a leading { trust => ... }).
sub cli_as
{
	my ($self, $key, @args) = @_;
	my $opt = ref $args[0] eq 'HASH' ? { %{ shift @args } } : {};
	$opt->{key} = $key;
	$opt->{trust} //= $self->{trust};
	$opt->{netns} //= $self->{netns} if $self->{netns};
	return DynamoTest::cli_at($self->addr, $opt, @args);
}

# get --json as { rc, context, siblings => [ {value, vclock} ], err }.
sub get
{
	my ($self, $bucket, $key, @more) = @_;
	my ($rc, $out, $err) = $self->cli('--json', 'get', $bucket, $key, @more);
	my $j = ($rc == 0 || $rc == 1) ? DynamoTest::json_decode($out) : undef;
	$j = { siblings => [] } unless ref $j eq 'HASH';
	$j->{rc} = $rc;
	$j->{err} = $err;
	diag("get $bucket/$key exited $rc: $err") if $rc > 1;
	return $j;
}

# put that must succeed; returns the printed context ('' and a failed test
# otherwise).
sub put_ok
{
	my ($self, $bucket, $key, $value, $ctx) = @_;
	my ($rc, $out, $err) = $self->cli('put', $bucket, $key, $value,
		defined $ctx ? ('--context', $ctx) : ());
	chomp $out;
	if ($rc != 0 || $out eq '')
	{
		fail("put $bucket/$key '$value' exited $rc (context '$out'): $err");
		return '';
	}
	return $out;
}

# status as a hash ({} and a diag on failure).
sub status
{
	my ($self) = @_;
	my ($rc, $out, $err) = $self->cli('status');
	if ($rc != 0)
	{
		diag("status exited $rc: $err");
		return {};
	}
	return DynamoTest::json_decode($out) // {};
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	$self->kill9 if $self->{pid} && $self->{owner} == $$;
}

package DynamoTest;

# Stop every node still running (also after die), keeping the test's exit
# status; show the logs of nodes whose test failed.
END
{
	my $status = $?;
	for my $node (values %LIVE)
	{
		next unless $node->{pid} && $node->{owner} == $$;
		my $st = $node->stop(5);
		diag("dynamod $node->{id} did not stop on SIGTERM within 5s; killed")
		  if defined $st && $st == -1;
	}
	$? = $status;
}

1;
