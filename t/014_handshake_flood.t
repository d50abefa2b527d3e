# 014_handshake_flood.t
#	A flood of unauthenticated handshakes against a secure node (issue 16,
#	item 3): while one address opens 1,000 connections a second, each
#	sending a handshake HELLO that makes the node do a key exchange and a
#	signature, an authenticated client's throughput (dynamo-bench) stays
#	close to what it is without the flood, because the node closes the
#	flooder's connections at accept once its address's bucket is empty.
#
#	The flooder binds 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux):
#	the per-address limit is per source address, and the bench connects from
#	127.0.0.1 as a client on another host would.  Throughput is measured in
#	rounds, without the flood and with it, and the ratio is the flood runs'
#	figure over the mean of the runs around them; the same is then measured
#	against a node with the limits off, which shows what the limits are for.  The real ratio is
#	printed; the assertion is looser (this machine is shared and noisy).
#	DYNAMO_FLOOD_SECS (3) and DYNAMO_FLOOD_ROUNDS (3) set the length.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(_exit);
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_LINGER pack_sockaddr_in inet_aton);
use Time::HiRes qw(time sleep);

use DynamoTest qw(bin keygen run_cmd json_decode);

my $dir = tempdir('dynamo-flood-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
my $writer = keygen("$dir/writer.key");
my $SECS = $ENV{DYNAMO_FLOOD_SECS} // 3;       # per bench run
my $ROUNDS = $ENV{DYNAMO_FLOOD_ROUNDS} // 3;

# Can this host send from 127.0.0.2?
{
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	plan skip_all => "cannot bind 127.0.0.2: $!"
	  unless bind($s, pack_sockaddr_in(0, inet_aton('127.0.0.2')));
	close $s;
}

# A flooder process: $rate connections a second from 127.0.0.2 to $port, each
# sending a HELLO (a fixed random ephemeral key: any 32 bytes but the few
# low-order points make the node compute session keys and sign), kept open
# for about 0.2 s so that the node reads it, then reset (SO_LINGER 0, so
# that closed sockets do not use up the ports in TIME_WAIT).  Writes how
# many it opened to $count_file when told to stop (SIGTERM).
sub start_flooder
{
	my ($port, $rate, $count_file) = @_;
	my $hello = "DYNS\x01\0\0\0" . join('', map { chr(int(rand(256))) } 1 .. 64);
	my $pid = fork // die "fork: $!";
	return $pid if $pid;
	my ($opened, $stop) = (0, 0);
	local $SIG{TERM} = sub { $stop = 1 };
	my $to = pack_sockaddr_in($port, inet_aton('127.0.0.1'));
	my $from = pack_sockaddr_in(0, inet_aton('127.0.0.2'));
	my $linger = pack('ii', 1, 0);
	my @open;
	my $t0 = time;
	while (!$stop)
	{
		my $due = $t0 + $opened / $rate;
		my $wait = $due - time;
		sleep($wait) if $wait > 0;
		socket(my $s, PF_INET, SOCK_STREAM, 0) or next;
		setsockopt($s, SOL_SOCKET, SO_LINGER, $linger);
		bind($s, $from) or next;
		$opened++;
		next unless connect($s, $to);
		syswrite($s, $hello);
		push @open, $s;
		close(shift @open) while @open > $rate / 5;
	}
	close $_ for @open;
	if (open my $fh, '>', $count_file)
	{
		printf $fh "%d %.3f\n", $opened, time - $t0;
		close $fh;
	}
	_exit(0);
}

sub stop_flooder
{
	my ($pid, $count_file) = @_;
	kill 'TERM', $pid;
	waitpid($pid, 0);
	my ($opened, $secs) = split ' ', (DynamoTest::slurp($count_file) // '0 1');
	return ($opened, $secs);
}

# PUT ops/s of an authenticated dynamo-bench run of $SECS seconds.
sub bench_ops
{
	my ($node, $what) = @_;
	my ($rc, $out, $err) = run_cmd(
		cmd => [ bin('dynamo-bench'), '--node', $node->addr, '--key', "$dir/writer.key",
			'--trust', $node->{trust}, '--connections', 8, '--pipeline', 8, '--op', 'put',
			'--keys', 10000, '--duration', $SECS, '--csv' ],
		timeout => $SECS + 30);
	my ($ops) = $out =~ /^PUT,([\d.]+),/m;
	ok($rc == 0 && defined $ops, "dynamo-bench $what: exit 0 and a figure")
	  or diag("exit $rc: $out $err");
	return $ops // 0;
}

# Rounds of baseline then flood against $node, and a last baseline; the
# ratio is the flood runs' ops over the mean of the baselines around each
# (summed over the rounds, so that the machine's other load, which comes and
# goes, weighs on both alike).  Returns (ratio, flood rate, status).
sub measure
{
	my ($node, $label) = @_;
	my $count_file = "$dir/flood-" . $node->port;
	my (@base, @flood, $opened, $secs);
	push @base, bench_ops($node, "$label, without the flood");
	for my $round (1 .. $ROUNDS)
	{
		my $fpid = start_flooder($node->port, 1000, $count_file);
		sleep 0.5;                        # the flood is in full swing
		push @flood, bench_ops($node, "$label, during flood $round");
		if ($round == 1)
		{
			my ($rc, undef, $err) = $node->cli_as("$dir/writer.key", 'put', 'flood', 'k', 'v');
			is($rc, 0, "$label: a new authenticated connection is served during the flood")
			  or diag($err);
		}
		my ($o, $t) = stop_flooder($fpid, $count_file);
		$opened += $o;
		$secs += $t;
		push @base, bench_ops($node, "$label, without the flood");
	}
	my ($during, $around) = (0, 0);
	for my $r (0 .. $#flood)
	{
		$during += $flood[$r];
		$around += ($base[$r] + $base[ $r + 1 ]) / 2;
	}
	my $ratio = $around > 0 ? $during / $around : 0;
	my $st = $node->status;
	diag(sprintf('%s: PUT ops/s without the flood %s, during it %s: ratio %.3f; the flooder '
		. 'opened %.0f connections a second from 127.0.0.2; handshakes %s', $label,
		join(' ', map { sprintf('%.0f', $_) } @base), join(' ', map { sprintf('%.0f', $_) } @flood),
		$ratio, $opened / ($secs || 1), DynamoTest::json_encode($st->{handshakes})));
	return ($ratio, $opened / ($secs || 1), $st);
}

# CPU seconds (user + system) the process has used, from /proc.
sub cpu_secs
{
	my ($pid) = @_;
	my $st = DynamoTest::slurp("/proc/$pid/stat") // '';
	$st =~ s/^.*\)\s+//s;
	my @f = split ' ', $st;
	return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# The share of a core the node spends on the flood alone (no other load on
# it): less sensitive to the machine's other load than a throughput ratio.
sub flood_cpu
{
	my ($node) = @_;
	my $count_file = "$dir/cpu-" . $node->port;
	my $fpid = start_flooder($node->port, 1000, $count_file);
	sleep 0.5;
	my ($c0, $t0) = (cpu_secs($node->pid), time);
	sleep $SECS;
	my ($c1, $t1) = (cpu_secs($node->pid), time);
	stop_flooder($fpid, $count_file);
	return ($c1 - $c0) / ($t1 - $t0);
}

my $limited = DynamoTest::Node->start(engine => 'memory', secure => 1,
	trust => [ [ $writer, 'write', 'writer' ] ]);

my ($ratio, $frate, $st) = measure($limited, 'default limits');
cmp_ok($frate, '>=', 900, 'the flooder kept up about 1,000 handshakes a second');
my $hs = $st->{handshakes} // {};
is($hs->{rate_address}, 50, 'status shows the per-address limit (default 50 a second)');
is($hs->{rate}, 500, 'and the node-wide limit (default 500 a second)');
cmp_ok($hs->{refused_address} // 0, '>', $frate * $SECS * $ROUNDS * 0.5,
	'most of the flooder\'s connections were refused at accept for their address');
cmp_ok($hs->{refused_total} // 0, '==', 0, 'none needed the node-wide limit');
cmp_ok($hs->{trusted} // 0, '>=', (2 * $ROUNDS + 1) * 8, 'the bench connections authenticated');
cmp_ok($hs->{accepted} - $hs->{trusted}, '<=', 50 * ($ROUNDS * ($SECS + 1.5) + 2) + 50 * $ROUNDS,
	'the flooder\'s handshakes that cost crypto stayed within 50 a second (plus a burst a round)');
like(DynamoTest::slurp($limited->{log}),
	qr/refusing handshakes over --handshake-rate-address 50 \(a second\): closed 127\.0\.0\.2:\d+ at accept/,
	'the refusals are logged, naming the flag and the address');
my @lines = DynamoTest::slurp($limited->{log}) =~ /refusing handshakes/g;
cmp_ok(scalar @lines, '<=', 4, 'at most once every 10 s, not once per connection');
cmp_ok($ratio, '>=', 0.6, sprintf('authenticated throughput under the flood: %.3f of the '
	. 'throughput without it (goal >= 0.8; asserted >= 0.6 on a shared machine)', $ratio));
my $cpu_limited = flood_cpu($limited);
ok($limited->alive, 'the node survived the flood');
is($limited->stop, 0, 'and stops cleanly');

my $open = DynamoTest::Node->start(engine => 'memory', secure => 1,
	trust => [ [ $writer, 'write', 'writer' ] ],
	args => [ '--handshake-rate', 0, '--handshake-rate-address', 0 ]);
my ($open_ratio) = measure($open, 'limits off (--handshake-rate 0 --handshake-rate-address 0)');
my $cpu_open = flood_cpu($open);
diag(sprintf('the limits: ratio %.3f with the default limits, %.3f with none; the flood alone '
	. 'cost the node %.1f%% of a core with the limits, %.1f%% with none',
	$ratio, $open_ratio, 100 * $cpu_limited, 100 * $cpu_open));
# about a third when the machine is quiet; other load slows the flooder of
# the unlimited run more than that of the limited one
cmp_ok($cpu_limited, '<', $cpu_open * 0.75,
	'with the limits the flood costs the node clearly less CPU than without');
is($open->status->{handshakes}{refused_address}, 0, 'with the limits off nothing is refused');
is($open->stop, 0, 'the unlimited node stops cleanly');

done_testing();
