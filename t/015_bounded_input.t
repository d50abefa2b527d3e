# 015_bounded_input.t
#	The input buffered over all connections is bounded (issue 16, item 4):
#	500 connections each sending 8 MiB of a 16 MiB frame would make a node
#	that buffers whatever arrives hold 8 GB; with --max-input-mb the node
#	sheds the connections that hold the most and its RSS stays under the
#	bound, while a normal client is served throughout.  Frames that do
#	complete but do not all fit at once wait their turn (reads paused:
#	back-pressure) and are answered, or, when none of the waiting could
#	complete, the largest is told to retry.  Before its handshake completes a
#	connection to a secure node holds a few hundred bytes, whatever it sends.
#	Idle connections (no part of a frame held) count nothing: 300 of them
#	leave room for a 1 MiB frame under --max-input-mb 16.
#
#	The floods run against --insecure nodes (a plaintext client is all a
#	test needs to send frames; the bound counts the same buffers on a
#	secure node once the channel is open).  Figures (RSS, peak input
#	counted, connections shed) are printed.

use strict;
use warnings;

use Test::More;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

use DynamoTest qw(frame raw_connect read_frame);

my $MIB = 1024 * 1024;

sub rss_bytes
{
	my ($pid) = @_;
	my $st = DynamoTest::slurp("/proc/$pid/status") // '';
	return $st =~ /^VmRSS:\s+(\d+) kB/m ? $1 * 1024 : 0;
}

# Send ${$data->[i]} (references: one 8 MiB string serves every socket) on
# each socket, as fast as the node reads, until all is sent, the node closed
# the socket, or $timeout; returns how many sockets sent everything and how
# many the node closed.  With $off (an array of offsets, updated) each
# socket starts where it is, and sends up to $upto bytes short of the end.
sub pump
{
	my ($socks, $data, $timeout, $off, $upto) = @_;
	my @off = $off ? @$off : (0) x @$socks;
	$upto //= 0;
	my ($done, $closed) = (0, 0);
	my %live = map { $_ => 1 } 0 .. $#$socks;
	my %index = map { fileno($socks->[$_]) => $_ } 0 .. $#$socks;
	my $deadline = time + $timeout;
	$_->blocking(0) for @$socks;
	while (%live && time < $deadline)
	{
		my $w = IO::Select->new(map { $socks->[$_] } keys %live);
		my @ready = $w->can_write(0.5);
		for my $s (@ready)
		{
			my $i = $index{ fileno($s) };
			my $left = length(${ $data->[$i] }) - $upto - $off[$i];
			my $n = syswrite($s, ${ $data->[$i] }, $left < 256 * 1024 ? $left : 256 * 1024, $off[$i]);
			if (!defined $n)
			{
				next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
				$closed++;
				delete $live{$i};
				next;
			}
			$off[$i] += $n;
			if ($off[$i] >= length(${ $data->[$i] }) - $upto)
			{
				$done++;
				delete $live{$i};
			}
		}
	}
	@$off = @off if $off;
	return ($done, $closed);
}

subtest '500 connections each sending 8 MiB of a 16 MiB frame' => sub {
	my $node = DynamoTest::Node->start(engine => 'memory');
	my $st = $node->status;
	my $limit = $st->{input}{limit};
	is($limit, 256 * $MIB, 'the default bound is 256 MiB (--max-input-mb 256)');
	$node->put_ok('b', 'normal', 'before');
	my $rss0 = rss_bytes($node->pid);

	my $done_file = "$node->{dir}/flood.done";
	my $fpid = fork // die "fork: $!";
	if ($fpid == 0)
	{
		$SIG{PIPE} = 'IGNORE';
		my (@socks, @data);
		my $partial = pack('N C N', 16 * $MIB - 16, 0x02, 1) . ('x' x (8 * $MIB));
		for (1 .. 500)
		{
			my $s = raw_connect($node->port) or next;
			push @socks, $s;
			push @data, \$partial;
		}
		my ($done, $closed) = pump(\@socks, \@data, 120);
		open my $fh, '>', "$done_file.tmp" or _exit(1);
		print $fh scalar(@socks), " $done $closed\n";
		close $fh;
		rename "$done_file.tmp", $done_file;
		sleep 30;                         # hold what was sent until told to stop
		_exit(0);
	}

	my ($max_rss, $served, $tried, $slowest) = (0, 0, 0, 0);
	my $last_cli = 0;
	my $deadline = time + 150;
	# during the flood, and then while its connections hold what they sent
	while ((!-e $done_file || $tried < 10) && time < $deadline)
	{
		my $r = rss_bytes($node->pid);
		$max_rss = $r if $r > $max_rss;
		if (time - $last_cli > 0.2)
		{
			my $t0 = time;
			$tried++;
			my ($rc, undef, $err) = $node->cli('put', 'b', "normal$tried", "v$tried");
			my ($grc, $gout, $gerr) = $node->cli('get', 'b', "normal$tried");
			my $took = time - $t0;
			$slowest = $took if $took > $slowest;
			$served++ if $rc == 0 && $grc == 0 && $gout =~ /v$tried/;
			diag("normal client: put exit $rc, get exit $grc: $err $gerr") unless $rc == 0 && $grc == 0;
			$last_cli = time;
		}
		sleep 0.05;
	}
	my ($opened, $sent, $closed) = split ' ', (DynamoTest::slurp($done_file) // '0 0 0');
	my $r = rss_bytes($node->pid);
	$max_rss = $r if $r > $max_rss;
	$st = $node->status;
	my $in = $st->{input} // {};
	diag(sprintf('%d connections: %d sent their 8 MiB, %d were closed by the node; node RSS '
		. '%.1f MiB before, at most %.1f MiB during (bound %d MiB); input counted: peak '
		. '%.1f MiB, %d connections shed, %d paused; the normal client was served %d of %d '
		. 'times (slowest put+get %.2f s)',
		$opened, $sent, $closed, $rss0 / $MIB, $max_rss / $MIB, $limit / $MIB,
		($in->{peak} // 0) / $MIB, $in->{shed} // 0, $in->{paused} // 0, $served, $tried,
		$slowest));
	is($opened, 500, 'the flooder opened 500 connections');
	cmp_ok($sent + $closed, '==', 500, 'each either sent its 8 MiB or was closed by the node');
	cmp_ok($in->{shed} // 0, '>=', 400, 'the node shed most of them');
	# every connection may always hold one read's worth (128 KiB) beyond the
	# bound, so a new or steady client is never starved; what the allocator
	# keeps of freed buffers comes on top
	my $allowance = 500 * 128 * 1024;
	cmp_ok($max_rss - $rss0, '<', $limit + $allowance + 32 * $MIB,
		sprintf('node RSS grew by less than the bound plus each connection\'s read allowance '
			. '(%.1f MiB) and 32 MiB of allocator slack', $allowance / $MIB));
	cmp_ok($in->{peak} // 0, '<=', $limit + 32 * $MIB,
		'the input counted never passed the bound by more than one buffer\'s growth');
	cmp_ok($tried, '>=', 10, 'the normal client tried again and again during the flood');
	is($served, $tried, 'and was served every time');
	like(DynamoTest::slurp($node->{log}),
		qr/closing connection from 127\.0\.0\.1:\d+: it held the most input \(\d+ bytes of a frame not yet complete\) and the input buffers of all connections are full/,
		'shedding is logged');

	kill 'TERM', $fpid;
	waitpid($fpid, 0);
	my $t0 = time;
	sleep 0.1 while time - $t0 < 5 && ($node->status->{input}{held} // $MIB) > 128 * 1024;
	cmp_ok($node->status->{input}{held}, '<=', 128 * 1024,
		'once the flood is gone the input held is one read buffer (the status connection\'s)');
	ok($node->alive, 'the node survived');
	is($node->stop, 0, 'and stops cleanly');
};

subtest 'frames that do not fit at once wait their turn (reads paused)' => sub {
	my $node = DynamoTest::Node->start(engine => 'memory', args => [ '--max-input-mb', 16 ]);
	my $n = 40;
	my $value = 'v' x (900 * 1024);
	# all but the last 100 KiB of every frame first (for a second: the
	# paused do not read), so that they are all arriving at once; then the rest
	my (@socks, @frames);
	for my $i (1 .. $n)
	{
		my $s = raw_connect($node->port) or return fail("connect: $!");
		push @socks, $s;
		push @frames, \frame(0x02, $i, pack('C/a* n/a* n/a* C N/a*', 'big', "k$i", '', 0, $value));
	}
	my @off = (0) x $n;
	pump(\@socks, \@frames, 1, \@off, 100 * 1024);
	my $mid = $node->status->{input};
	diag(sprintf('with most of every frame sent: input counted %.1f MiB, %d connections paused',
		$mid->{held} / $MIB, $mid->{paused_now}));
	cmp_ok($mid->{paused_now}, '>', 0, 'some connections are paused, waiting for room');
	cmp_ok($mid->{held}, '<=', 16 * $MIB + $n * 128 * 1024,
	'and the input counted is within the bound (and a read buffer each)');
	my ($done, $closed) = pump(\@socks, \@frames, 30, \@off);
	is($done + $closed, $n, "the rest of all $n frames was sent (or the node closed the connection)");
	# each is answered, or (when the paused frames could not all complete:
	# none had room left) told to retry: never silently dropped
	my ($answered, $retry, @stored) = (0, 0);
	for my $i (1 .. $n)
	{
		my $s = $socks[ $i - 1 ];
		$s->blocking(1);
		my $f = read_frame($s, 30);
		my $e = $f && $f->{type} == 0xFF ? DynamoTest::decode_error($f->{body}) : undef;
		if ($f && $f->{type} == 0x82) { $answered++; push @stored, $i }
		elsif ($e && $e->{code} == 7 && $e->{message} =~ /short of input memory.*retry later/) { $retry++ }
		else { diag('unexpected reply: ' . ($f ? "type $f->{type}" : "none: $@")) }
	}
	my $in = $node->status->{input};
	diag(sprintf('%d frames of 900 KiB against --max-input-mb 16: %d answered, %d told to retry; '
		. 'reads paused %d times, %d connections shed, peak input counted %.1f MiB',
		$n, $answered, $retry, $in->{paused}, $in->{shed}, $in->{peak} / $MIB));
	is($answered + $retry, $n, 'every PUT was answered, or told to retry later');
	cmp_ok($answered, '>=', $n * 3 / 4, 'most were answered after waiting their turn');
	is($retry, $in->{shed}, 'those told to retry are the connections shed');
	cmp_ok($in->{peak}, '<=', 16 * $MIB + $n * 128 * 1024,
		'the input counted stayed within the bound (and a read buffer each)');
	my $whole = grep { length($node->get('big', "k$_")->{siblings}[0]{value} // '') == length $value }
	  @stored;
	is($whole, scalar @stored, 'every value answered is stored whole');
	close $_ for @socks;
	is($node->stop, 0, 'the node stops cleanly');
};

subtest 'before the handshake a connection holds a few hundred bytes, whatever it sends' => sub {
	my $node = DynamoTest::Node->start(engine => 'memory', secure => 1,
		args => [ '--handshake-rate', 0, '--handshake-rate-address', 0 ]);
	my $rss0 = rss_bytes($node->pid);
	my @socks;
	# a HELLO, then the first 100 bytes of a FIN that never completes
	my $hello = "DYNS\x01\0\0\0" . join('', map { chr(int(rand(256))) } 1 .. 64);
	for (1 .. 500)
	{
		my $s = raw_connect($node->port) or last;
		syswrite($s, $hello . ('f' x 100));
		push @socks, $s;
	}
	is(scalar @socks, 500, '500 connections sent a HELLO and part of a FIN');
	sleep 1;
	my $st = $node->status;
	my $grew = rss_bytes($node->pid) - $rss0;
	diag(sprintf('500 half-done handshakes: node RSS grew by %.1f MiB (%.0f bytes each), '
		. 'input counted %d bytes', $grew / $MIB, $grew / 500, $st->{input}{held}));
	is($st->{connections}{open}, 501, 'the node holds them all (and the status connection)');
	cmp_ok($grew, '<', 16 * $MIB, 'for less than 16 MiB of RSS in all');
	cmp_ok($st->{input}{held}, '<=', 500 * 256 + 128 * 1024,
		'the input buffers hold 256 bytes each (the handshake read size)');
	close $_ for @socks;
	my ($rc, undef, $err) = $node->cli('status');
	is($rc, 0, 'the node answers') or diag($err);
	is($node->stop, 0, 'and stops cleanly');
};

subtest 'idle connections hold no part of a frame and count nothing' => sub {
	# each connection's read buffer (64 KiB) once counted whether it held
	# anything or not: 300 idle clients filled --max-input-mb 16, and every
	# frame over one read was refused ("short of input memory") on a node
	# with a few MiB of RSS
	my $node = DynamoTest::Node->start(engine => 'memory', args => [ '--max-input-mb', 16 ]);
	my @idle;
	for my $i (1 .. 300)
	{
		my $s = raw_connect($node->port) or return fail("connect: $!");
		syswrite($s, frame(0x02, 1, pack('C/a* n/a* n/a* C N/a*', 'idle', "k$i", '', 0, 'x' x 100)));
		my $f = read_frame($s, 10);
		return fail("idle client $i: no answer ($@)") unless $f && $f->{type} == 0x82;
		push @idle, $s;
	}
	my $in = $node->status->{input};
	diag(sprintf('300 idle connections: input counted %.1f MiB', $in->{held} / $MIB));
	cmp_ok($in->{held}, '<=', 128 * 1024, 'they count nothing (the status read at most)');
	my $s = raw_connect($node->port) or return fail("connect: $!");
	syswrite($s, frame(0x02, 2, pack('C/a* n/a* n/a* C N/a*', 'big', 'one', '', 0, 'y' x $MIB)));
	my $f = read_frame($s, 10);
	my $e = $f && $f->{type} == 0xFF ? DynamoTest::decode_error($f->{body}) : undef;
	ok($f && $f->{type} == 0x82, 'a 1 MiB PUT beside them is answered')
	  or diag($e ? "error: $e->{message}" : 'no answer');
	is($node->status->{input}{shed}, 0, 'no connection was shed');
	close $_ for $s, @idle;
	is($node->stop, 0, 'the node stops cleanly');
};

done_testing();
