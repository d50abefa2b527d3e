# 019_bench_redis.t
#	dynamo-bench --redis (issue 15, item 4): the open-loop reference that
#	scripts/bench.sh runs against redis-server at the rates it runs dynamod
#	at.  Against a real redis-server on a free port: the requests complete,
#	closed loop and with --rate (redis's own command counters say how many
#	SETs and GETs arrived, and its hit counter that every GET found a
#	value), the values written are the bench's, a 100 kB reply (spread over
#	several of the bench's 16 kB reads) is parsed, and an -ERR reply (a
#	server with requirepass answers every command -NOAUTH) is a counted
#	failure and exit status 1.  Against fake servers that answer garbage or
#	hang up in the middle of a reply: a clear error, exit status 1, no hang.
#	Every process started here is stopped at exit, also when a check dies.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(time sleep);

use DynamoTest qw(bin free_port run_cmd);

for my $prog (qw(redis-server redis-cli))
{
	plan skip_all => "$prog is not installed"
	  unless grep { -x "$_/$prog" } split /:/, $ENV{PATH};
}

my $dir = tempdir('dynamo-bench-redis-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
my $BENCH = bin('dynamo-bench');

# The processes started here, by pid, for the END block; a signal to stop
# the test runs END too (perl's default for them would skip it).
my %PIDS;
my $PARENT = $$;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };

END
{
	my $status = $?;
	return if $$ != $PARENT;
	kill 'TERM', keys %PIDS;
	my $deadline = time + 5;
	while (%PIDS && time < $deadline)
	{
		for my $pid (keys %PIDS)
		{
			delete $PIDS{$pid} if waitpid($pid, WNOHANG) != 0;
		}
		sleep 0.05 if %PIDS;
	}
	kill 'KILL', keys %PIDS;
	waitpid($_, 0) for keys %PIDS;
	$? = $status;
}

# Whether something accepts connections on the loopback port, within 10 s.
sub wait_port
{
	my ($port) = @_;
	for (1 .. 100)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
			Proto => 'tcp', Timeout => 1);
		if ($s) { close $s; return 1 }
		sleep 0.1;
	}
	return 0;
}

# A throw-away redis-server (no persistence) on a free port; returns the port.
sub start_redis
{
	my ($name, @extra) = @_;
	my $port = free_port();
	mkdir "$dir/$name" or die "mkdir $dir/$name: $!\n";
	my $pid = fork // die "fork: $!\n";
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null' or _exit(127);
		open STDOUT, '>', "$dir/$name/log" or _exit(127);
		open STDERR, '>&', \*STDOUT or _exit(127);
		{
			no warnings 'exec';
			exec 'redis-server', '--port', $port, '--bind', '127.0.0.1', '--save', '',
			  '--appendonly', 'no', '--daemonize', 'no', '--dir', "$dir/$name", @extra;
		}
		_exit(127);
	}
	$PIDS{$pid} = 1;
	wait_port($port) or die "redis-server ($name) did not listen on $port within 10 s:\n"
	  . `cat $dir/$name/log`;
	return $port;
}

# A fake server on a free port: answers every read with $answer, or with
# close => 1 closes the connection after answering.  It exits when the test
# is gone, even if the test was killed before END could stop it.  Returns
# the port.
sub start_fake
{
	my ($answer, %o) = @_;
	my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
		Proto => 'tcp', Listen => 128, ReuseAddr => 1) or die "listen: $!\n";
	my $port = $listen->sockport;
	my $pid = fork // die "fork: $!\n";
	if ($pid == 0)
	{
		my $sel = IO::Select->new($listen);
		$SIG{PIPE} = 'IGNORE';
		$SIG{INT} = $SIG{TERM} = 'DEFAULT';
		while (getppid() == $PARENT)
		{
			for my $s ($sel->can_read(1))
			{
				if ($s == $listen)
				{
					my $c = $listen->accept or next;
					$sel->add($c);
					next;
				}
				my $n = sysread($s, my $buf, 65536);
				if (!$n || !syswrite($s, $answer) || $o{close})
				{
					$sel->remove($s);
					close $s;
				}
			}
		}
		_exit(0);
	}
	close $listen;
	$PIDS{$pid} = 1;
	return $port;
}

sub redis_cli
{
	my ($port, @args) = @_;
	my ($rc, $out, $err) = run_cmd(cmd => [ 'redis-cli', '-h', '127.0.0.1', '-p', $port, @args ]);
	die "redis-cli @args exited $rc: $err\n" if $rc != 0;
	return $out;
}

# redis's counters: SET and GET calls, keyspace hits and misses.
sub counters
{
	my ($port) = @_;
	my $info = redis_cli($port, 'INFO', 'all');
	my %c = (set => 0, get => 0, hits => 0, misses => 0);
	$c{set} = $1 if $info =~ /^cmdstat_set:calls=(\d+)/m;
	$c{get} = $1 if $info =~ /^cmdstat_get:calls=(\d+)/m;
	$c{hits} = $1 if $info =~ /^keyspace_hits:(\d+)/m;
	$c{misses} = $1 if $info =~ /^keyspace_misses:(\d+)/m;
	return \%c;
}

# Run dynamo-bench --redis against $port; returns (rc, stdout, stderr).
sub bench
{
	my ($port, @args) = @_;
	return run_cmd(cmd => [ $BENCH, '--redis', '--node', "127.0.0.1:$port", @args ],
		timeout => 60);
}

# The CSV lines: op => [ops_per_sec, p50, p99, p999].
sub csv
{
	my ($out) = @_;
	my %r;
	for (split /\n/, $out)
	{
		my ($op, @f) = split /,/;
		$r{$op} = \@f if @f == 4 && $op =~ /^(PUT|GET|MIXED)$/;
	}
	return \%r;
}

my $port = start_redis('plain');
is(redis_cli($port, 'PING'), "PONG\n", 'redis-server answers');

# ---- closed loop: every key of a 1000-key space written, then read ----
{
	my $c0 = counters($port);
	my ($rc, $out, $err) = bench($port, qw(--connections 8 --pipeline 16 --keys 1000
		  --sequential --requests 20000 --csv));
	is($rc, 0, 'closed loop: exit status 0') or diag($err);
	my $r = csv($out);
	ok($r->{PUT} && $r->{PUT}[0] > 0 && $r->{GET} && $r->{GET}[0] > 0,
		'closed loop: a PUT and a GET line with a rate') or diag($out);
	unlike($err, qr/found no value/, 'closed loop: no GET missed');
	my $c1 = counters($port);
	is($c1->{set} - $c0->{set}, 20000, 'closed loop: redis got every SET');
	is($c1->{get} - $c0->{get}, 20000, 'closed loop: redis got every GET');
	is($c1->{hits} - $c0->{hits}, 20000, 'closed loop: every GET found a value');
	is(redis_cli($port, 'DBSIZE'), "1000\n", 'closed loop: the 1000 keys are there');
	is(redis_cli($port, 'GET', 'key:000000000007'), ('x' x 100) . "\n",
		'closed loop: key:000000000007 holds the bench\'s 100-byte value');
	is(redis_cli($port, 'GET', 'key:000000000999'), ('x' x 100) . "\n",
		'closed loop: so does key:000000000999');
}

# ---- open loop: --rate, a PUT phase then a GET phase of its keys ----
{
	my ($rate, $secs) = (5000, 2);
	my $c0 = counters($port);
	my ($rc, $out, $err) = bench($port, '--connections', 4, '--pipeline', 16, '--keys',
		1000, '--rate', $rate, '--duration', $secs, '--csv');
	is($rc, 0, '--rate: exit status 0') or diag($err);
	my $r = csv($out);
	my $c1 = counters($port);
	my ($sets, $gets) = ($c1->{set} - $c0->{set}, $c1->{get} - $c0->{get});
	# the requests due in the phase: rate x duration (a loaded machine can
	# leave a few due ones unsent at the deadline, when every pipeline is full)
	my $due = $rate * $secs;
	ok($sets >= 0.9 * $due && $sets <= $due + 1, "--rate: $sets SETs for $due due");
	ok($gets >= 0.9 * $due && $gets <= $due + 1, "--rate: $gets GETs for $due due");
	is($c1->{hits} - $c0->{hits}, $gets, '--rate: every GET found a value');
	ok($r->{PUT} && $r->{PUT}[0] > 0.5 * $rate && $r->{PUT}[0] < 1.2 * $rate,
		'--rate: the PUT rate is about the rate asked for')
	  or diag($out);
	ok($r->{GET} && $r->{GET}[0] > 0.5 * $rate && $r->{GET}[0] < 1.2 * $rate,
		'--rate: the GET rate is about the rate asked for')
	  or diag($out);
}

# ---- 100 kB values: every GET reply spans several reads ----
{
	my $c0 = counters($port);
	my ($rc, $out, $err) = bench($port, qw(--connections 2 --pipeline 4 --keys 20
		  --sequential --value-size 100000 --requests 200 --csv));
	is($rc, 0, '100 kB values: exit status 0') or diag($err);
	my $c1 = counters($port);
	is($c1->{get} - $c0->{get}, 200, '100 kB values: redis got every GET');
	is($c1->{hits} - $c0->{hits}, 200, '100 kB values: every GET found a value');
	unlike($err, qr/found no value|failed/, '100 kB values: no miss, no failure');
	is(redis_cli($port, 'GET', 'key:000000000013'), ('x' x 100000) . "\n",
		'100 kB values: key:000000000013 holds the 100000 bytes written');
}

# ---- a redis error is a failed request ----
{
	my $auth = start_redis('auth', '--requirepass', 'not-given');
	my ($rc, $out, $err) = bench($auth, qw(--connections 2 --pipeline 4 --requests 100));
	is($rc, 1, '-NOAUTH: exit status 1');
	like($err, qr/200 requests failed/, '-NOAUTH: every request counted as failed');
	like($err, qr/100 PUT: redis error, first: NOAUTH/, '-NOAUTH: the PUTs, with the message');
	like($err, qr/100 GET: redis error, first: NOAUTH/, '-NOAUTH: the GETs, with the message');
}

# ---- servers that do not speak RESP ----
{
	my $fake = start_fake("xyz\r\n");
	my $t0 = time;
	my ($rc, $out, $err) = run_cmd(cmd => [ $BENCH, '--redis', '--node', "127.0.0.1:$fake",
			qw(--connections 2 --requests 100) ], timeout => 20);
	is($rc, 1, 'garbage: exit status 1 (not a hang, not a crash)') or diag($err);
	like($err, qr/malformed reply from redis at 127\.0\.0\.1:$fake during the PUT phase: a reply cannot start with byte 0x78 \(the unparsed input starts "xyz\\r\\n"\)/,
		'garbage: the error says what came back');
	ok(time - $t0 < 10, 'garbage: it ends at once');

	my $cut = start_fake("\$100\r\nxxxxx", close => 1);
	($rc, $out, $err) = run_cmd(cmd => [ $BENCH, '--redis', '--node', "127.0.0.1:$cut",
			qw(--connections 1 --requests 10) ], timeout => 20);
	is($rc, 1, 'a reply cut short: exit status 1') or diag($err);
	like($err, qr/it closed the connection in the middle of a reply/,
		'a reply cut short: the error says so');

	my $bad = start_fake("\$3\r\nabcd\r\n");
	($rc, $out, $err) = run_cmd(cmd => [ $BENCH, '--redis', '--node', "127.0.0.1:$bad",
			qw(--connections 1 --op get --requests 10) ], timeout => 20);
	is($rc, 1, 'a bulk longer than its length: exit status 1') or diag($err);
	like($err, qr/a 3-byte bulk reply not followed by CRLF/,
		'a bulk longer than its length: the error says so');
}

# ---- combinations that make no sense ----
for my $case ([ '--route' ], [ '--key', "$dir/none.key" ], [ '--inproc', 'memory', '--data', $dir ],
	[ '--puts', 'blind' ], [ '--bucket', 'b' ])
{
	my ($rc, $out, $err) = bench($port, @$case);
	is($rc, 2, "--redis @$case: usage error");
	like($err, qr/--redis cannot be combined with \Q$case->[0]\E/, "--redis @$case: says why");
}

done_testing();
