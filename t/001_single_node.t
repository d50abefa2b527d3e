# 001_single_node.t
#	One dynamod node on the WiredTiger engine: context semantics (dotted
#	version vectors), deletes, restarts, crash durability, malformed frames,
#	status counters and dynamo-cli's exit codes (DESIGN.md sections 1, 3).

use strict;
use warnings;

use Test::More;
use MIME::Base64 ();
use Time::HiRes qw(time sleep);

use DynamoTest qw(cli_at free_port json_decode run_cmd bin frame get_frame_body
  raw_connect read_frame decode_get_reply raw_get_many
  check_read_modify_write check_siblings check_delete);

my $node = DynamoTest::Node->start(engine => 'wiredtiger');
is($node->status->{engine}, 'wiredtiger', 'status reports the wiredtiger engine');

subtest '1. read-modify-write with the returned context, 1,000 times' => sub {
	check_read_modify_write($node, 1000);
};

subtest '2. siblings from a stale context, collapsed by the merged one' => sub {
	check_siblings($node);
};

subtest '3. delete hides the key, a blind write revives it' => sub {
	check_delete($node);
};

subtest 'a written clock keeps its whole context' => sub {
	# A context naming 12 other nodes (as a big cluster would produce), with
	# timestamps 1 s apart: the new version keeps all of it and its dot (up
	# to issue 16 it was cut to 10 entries, which could drop the dot of a
	# version the write superseded).  A full context (32 entries) without
	# this node loses its oldest entry to make room for the dot.
	my $varint = sub {
		my ($v) = @_;
		my $o = '';
		while ($v >= 0x80) { $o .= chr(($v & 0x7f) | 0x80); $v >>= 7 }
		return $o . chr($v);
	};
	my $context = sub {
		my @ids = @_;
		my $bin = chr(scalar @ids) . join('', map {
				chr(length $ids[$_]) . $ids[$_] . $varint->(5) . $varint->(1_700_000_000_000 + $_ * 1000)
			} 0 .. $#ids);
		return MIME::Base64::encode_base64url($bin);
	};
	my @ids = map { sprintf 'x%02d', $_ } 1 .. 12;
	my $c = $node->put_ok('trunc', 'k', 'wide', $context->(@ids));
	my $g = $node->get('trunc', 'k');
	my $vc = $g->{siblings}[0]{vclock} // {};
	is_deeply([ sort keys %$vc ], [ sort($node->{id}, @ids) ],
		'the stored clock is the 12 entries of the context and the dot')
	  or diag(DynamoTest::json_encode($vc));
	is($vc->{x12}, 5, 'entries keep their counters');

	$node->put_ok('trunc', 'k', 'next', $c);
	$g = $node->get('trunc', 'k');
	is_deeply([ map { $_->{value} } @{ $g->{siblings} } ], ['next'],
		'the context returned by put supersedes that version');

	my @full = map { sprintf 'y%02d', $_ } 1 .. 32;
	$node->put_ok('trunc', 'full', 'v', $context->(@full));
	$vc = $node->get('trunc', 'full')->{siblings}[0]{vclock} // {};
	is_deeply([ sort keys %$vc ], [ sort($node->{id}, @full[ 1 .. 31 ]) ],
		'a full context without this node: its oldest entry makes room for the dot')
	  or diag(DynamoTest::json_encode($vc));
};

subtest 'output formats and stdin values' => sub {
	my ($rc, $out, $err) = $node->cli('--json', 'put', 'fmt', 'k', 'hello');
	is($rc, 0, 'put --json exits 0') or diag($err);
	my $j = json_decode($out);
	ok(ref $j eq 'HASH' && ($j->{context} // '') ne '', 'put --json prints {"context":...}');

	my $value = "line one\nline two\ttab \"quoted\" \\ back\x01\n";
	($rc, $out, $err) = $node->cli({ stdin => $value }, 'put', 'fmt', 'stdin', '-');
	is($rc, 0, 'put with VALUE - reads stdin') or diag($err);
	my $g = $node->get('fmt', 'stdin');
	is($g->{siblings}[0]{value}, $value, 'the value read from stdin comes back byte for byte');

	my $big = join('', map { chr(32 + ($_ * 7919) % 95) } 1 .. 300_000);
	($rc, $out, $err) = $node->cli({ stdin => $big }, 'put', 'fmt', 'big', '-');
	is($rc, 0, 'a 300 kB value from stdin') or diag($err);
	is($node->get('fmt', 'big')->{siblings}[0]{value}, $big, 'comes back intact');

	($rc, $out, $err) = $node->cli('get', 'fmt', 'k');
	is($rc, 0, 'plain get exits 0');
	like($out, qr/^\{"\Q$node->{id}\E":\d+\}\thello\ncontext: \S+\n\z/,
		'plain get prints "vclock<TAB>value" per sibling, then the context');
};

subtest '4. a clean restart keeps everything' => sub {
	my %expect;
	# single versions, siblings, a deleted key, a revived key
	for my $i (1 .. 20)
	{
		$node->put_ok('keep', "k$i", "value $i");
	}
	my $c = $node->put_ok('keep', 'sibs', 'base');
	$node->put_ok('keep', 'sibs', "s$_", $c) for 1 .. 3;
	$node->put_ok('keep', 'tomb', 'soon deleted');
	my ($rc, undef, $err) = $node->cli('delete', 'keep', 'tomb', '--context',
		$node->get('keep', 'tomb')->{context});
	is($rc, 0, 'delete before the restart') or diag($err);

	my @keys = ((map { [ 'keep', "k$_" ] } 1 .. 20), [ 'keep', 'sibs' ], [ 'keep', 'tomb' ],
		[ 'sib', 'cart' ], [ 'del', 'gone' ], [ 'rmw', 'counter' ], [ 'fmt', 'big' ]);
	$expect{"@$_"} = $node->get(@$_) for @keys;
	is(scalar @{ $expect{'keep sibs'}{siblings} }, 3, 'three siblings before the restart');
	my $keys_before = $node->status->{keys};

	my $st = $node->stop;
	is($st, 0, 'SIGTERM stops the node with exit status 0') or diag($node->log_tail);
	$node->restart;

	for my $k (@keys)
	{
		my $g = $node->get(@$k);
		delete $_->{err} for $g, $expect{"@$k"};
		is_deeply($g, $expect{"@$k"}, "@$k: same siblings, clocks and context after the restart");
	}
	is($node->status->{keys}, $keys_before, 'status reports the same key count');

	# Dots must keep growing across the restart, or a new write could reuse
	# the dot of a stored version and be taken for it.
	my $old = $expect{'keep sibs'};
	my $max = 0;
	for (@{ $old->{siblings} })
	{
		my $v = $_->{vclock}{ $node->{id} } // 0;
		$max = $v if $v > $max;
	}
	$node->put_ok('keep', 'sibs', 's4');
	my $g = $node->get('keep', 'sibs');
	is(scalar @{ $g->{siblings} }, 4, 'a blind write after the restart adds a fourth sibling');
	my ($new) = grep { $_->{value} eq 's4' } @{ $g->{siblings} };
	cmp_ok($new->{vclock}{ $node->{id} } // 0, '>', $max,
		'with a dot above every dot issued before the restart');
	$node->put_ok('keep', 'sibs', 'one', $g->{context});
	is_deeply([ map { $_->{value} } @{ $node->get('keep', 'sibs')->{siblings} } ], ['one'],
		'the merged context still collapses them after the restart');
};

subtest '5. --durability fsync: acknowledged writes survive kill -9' => sub {
	my $f = DynamoTest::Node->start(engine => 'wiredtiger', durability => 'fsync');
	is($f->status->{durability}, 'fsync', 'status reports durability fsync');
	my $failed = 0;
	for my $i (1 .. 200)
	{
		my ($rc, undef, $err) = $f->cli('put', 'crash', "key$i", "value-$i-" . ('x' x ($i % 37)));
		if ($rc != 0) { $failed++; diag("put key$i exited $rc: $err") }
	}
	is($failed, 0, '200 puts acknowledged');
	$f->kill9;
	$f->restart;
	# read them all back pipelined on one connection (quicker than 200 cli
	# calls), then a few through dynamo-cli too
	my $got = raw_get_many($f->port, map { [ 'crash', "key$_" ] } 1 .. 200);
	ok($got, 'pipelined GETs of the 200 keys answered');
	my @missing;
	for my $i (1 .. 200)
	{
		my @v = map { $_->{value} } grep { !$_->{tombstone} } @{ $got->{"crash/key$i"} // [] };
		push @missing, "key$i" unless @v == 1 && $v[0] eq "value-$i-" . ('x' x ($i % 37));
	}
	is_deeply(\@missing, [], 'all 200 acknowledged keys are there after kill -9 and restart')
	  or diag($f->log_tail);
	for my $i (1, 117, 200)
	{
		my $g = $f->get('crash', "key$i");
		is_deeply([ map { $_->{value} } @{ $g->{siblings} } ], [ "value-$i-" . ('x' x ($i % 37)) ],
			"key$i through dynamo-cli");
	}
	is($f->status->{keys}, 200, 'status counts 200 keys');
	$f->stop;
};

subtest '6. malformed input does not stop the node' => sub {
	my $port = $node->port;
	my $baseline = $node->status;

	# A connection opened before any garbage, kept open throughout.
	my $held = raw_connect($port) or BAIL_OUT("cannot connect to $port");
	$node->put_ok('raw', 'held', 'from before');
	my $next_id = 100;
	my $held_works = sub {
		my ($what) = @_;
		my ($a, $b) = ($next_id++, $next_id++);
		# two pipelined GETs in one write
		syswrite($held, frame(0x01, $a, get_frame_body('raw', 'held'))
			  . frame(0x01, $b, get_frame_body('raw', 'no such key')));
		my %got;
		for (1 .. 2)
		{
			my $f = read_frame($held, 5) or last;
			$got{ $f->{reqid} } = $f;
		}
		my $ok = exists $got{$a} && exists $got{$b}
		  && $got{$a}{type} == 0x81 && $got{$b}{type} == 0x81;
		my ($sa, $sb) = $ok ? (eval { decode_get_reply($got{$a}{body}) },
			eval { decode_get_reply($got{$b}{body}) }) : ();
		ok($ok && $sa && @$sa == 1 && $sa->[0]{value} eq 'from before' && $sb && !@$sb,
			"the connection opened before the garbage still answers pipelined GETs $what");
	};
	my $fresh_works = sub {
		my ($what) = @_;
		ok($node->alive, "node still running $what") or diag($node->log_tail);
		my $v = "after $what";
		my ($rc, undef, $err) = $node->cli('put', 'raw', 'fresh', $v);
		my $g = $node->get('raw', 'fresh');
		ok($rc == 0 && grep({ $_->{value} eq $v } @{ $g->{siblings} }),
			"put/get on a new connection works $what") or diag($err);
	};
	$held_works->('(before any garbage)');

	# Send bytes on a new connection; expect (optionally) an error frame and a
	# close.  Returns the first frame the node sent back, if any.
	my $garbage = sub {
		my ($bytes, %o) = @_;
		my $s = raw_connect($port) or return fail('connect for garbage');
		my $off = 0;
		while ($off < length $bytes)
		{
			my $n = syswrite($s, $bytes, 65536, $off);
			last unless defined $n && $n > 0;    # the node may close early
			$off += $n;
		}
		my $reply = $o{close_now} ? undef : read_frame($s, 5);
		my $closed = $o{close_now} ? 1 : DynamoTest::wait_closed($s, 5);
		close $s;
		return ($reply, $closed);
	};
	my $expect_error_close = sub {
		my ($what, $reply, $closed, @codes) = @_;
		ok($reply && $reply->{type} == 0xFF, "$what: the node answers with an error frame")
		  or diag('got ' . ($reply ? sprintf('type 0x%02x', $reply->{type}) : "nothing ($@)"));
		if ($reply && $reply->{type} == 0xFF && @codes)
		{
			my $e = DynamoTest::decode_error($reply->{body});
			ok($e && grep({ $e->{code} == $_ } @codes),
				"$what: error code " . ($e ? $e->{code} : '?') . " is one of @codes");
		}
		ok($closed, "$what: and closes that connection");
	};

	srand(20071014);
	my $random = join('', map { chr(int(rand(256))) } 1 .. (1 << 20));
	$garbage->($random);
	$fresh_works->('after 1 MB of random bytes');

	my $bad0 = $node->status->{requests}{bad_frames};
	my ($r, $c) = $garbage->(pack('N C N', 0x80000000, 0x01, 1));
	$expect_error_close->('a frame claiming a 2 GB body', $r, $c, 5);
	$fresh_works->('after a 2 GB frame header');
	is($node->status->{requests}{bad_frames}, $bad0 + 1, 'bad_frames counted it');

	$garbage->(pack('N C N', 100, 0x01, 2) . ('z' x 50), close_now => 1);
	$fresh_works->('after a truncated frame and close');

	($r, $c) = $garbage->(frame(0x42, 3, 'what is this'));
	$expect_error_close->('a frame of unknown type 0x42', $r, $c, 1);
	$fresh_works->('after an unknown frame type');

	($r, $c) = $garbage->(frame(0x81, 4, "\0\0\0\0"));
	$expect_error_close->('a reply frame sent by a client', $r, $c, 1);

	# lengths inside the body that lie about the body
	($r, $c) = $garbage->(frame(0x01, 5, pack('C', 200) . 'short'));
	$expect_error_close->('a GET whose bucket length exceeds its body', $r, $c, 1);
	($r, $c) = $garbage->(frame(0x01, 6, get_frame_body('b', 'k') . 'trailing'));
	$expect_error_close->('a GET with trailing bytes', $r, $c, 1);
	($r, $c) = $garbage->(frame(0x02, 7, 'x'));
	$expect_error_close->('a one-byte PUT body', $r, $c, 1);
	($r, $c) = $garbage->(frame(0x04, 8, 'body'));
	$expect_error_close->('a STATUS with a body', $r, $c, 1);
	($r, $c) = $garbage->(frame(0x01, 9, pack('C', 0)));
	$expect_error_close->('a GET cut inside its key length', $r, $c, 1);

	# a valid request followed by garbage on the same connection: the valid
	# one is answered first
	($r, $c) = $garbage->(frame(0x01, 10, get_frame_body('raw', 'held')) . frame(0x42, 11, ''));
	ok($r && $r->{type} == 0x81 && $r->{reqid} == 10,
		'a valid GET before a bad frame on the same connection is answered');

	$fresh_works->('after all the malformed frames');
	$held_works->('(after all the garbage)');

	my $st = $node->status;
	cmp_ok($st->{requests}{bad_frames}, '>=', $baseline->{requests}{bad_frames} + 9,
		'status counts every bad frame');
	# the held connection and status's own are the only ones left open
	my $open;
	for (1 .. 40)
	{
		$open = $node->status->{connections}{open};
		last if defined $open && $open == 2;
		sleep 0.05;
	}
	is($open, 2, 'closed connections are gone from connections.open');
	close $held;
};

subtest 'values at the frame limit, and a client that does not read' => sub {
	my ($rc, $out, $err) = $node->cli({ stdin => 'y' x (15 << 20) }, 'put', 'lim', 'v15', '-');
	is($rc, 0, 'a 15 MiB value (under the 16 MiB frame limit) is stored') or diag($err);
	my ($grc, $gout) = $node->cli('get', 'lim', 'v15');
	ok($grc == 0 && index($gout, 'y' x (15 << 20)) >= 0, 'and read back whole');

	($rc, $out, $err) = $node->cli({ stdin => 'x' x (17 << 20) }, 'put', 'lim', 'v17', '-');
	isnt($rc, 0, 'a 17 MiB value (over the frame limit) is refused');
	ok($node->alive, 'without harm to the node');
	is($rc, 2, 'the refusal is a usage error (exit 2), not "cannot connect"') or diag($err);
	like($err, qr/exceeds the maximum/, 'and says the value is too big');
	is($node->get('lim', 'v17')->{rc}, 1, 'nothing was stored for it');

  SKIP: {
		skip 'no /proc to read the node\'s memory', 3 unless -r "/proc/" . $node->pid . "/status";
		my $rss = sub {
			open my $fh, '<', "/proc/$_[0]/status" or return 0;
			while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
			return 0;
		};
		# 400 GETs of a 1 MiB value in one 10 kB write, from a client that
		# never reads the replies: the node must stop reading (back-pressure),
		# not queue 400 MiB of replies.
		$node->cli({ stdin => 'm' x (1 << 20) }, 'put', 'lim', 'mb', '-');
		my $s = raw_connect($node->port);
		syswrite($s, frame(0x01, 1, get_frame_body('lim', 'mb')) x 400);
		my $peak = 0;
		for (1 .. 20)
		{
			sleep 0.1;
			my $r = $rss->($node->pid);
			$peak = $r if $r > $peak;
		}
		note("node peak RSS $peak kB");
		cmp_ok($peak, '<', 256 * 1024,
			'400 unread 1 MiB replies do not grow the node past 256 MB (back-pressure)');
		close $s;
		ok($node->alive, 'the node is still running');
		my ($src, undef, $serr) = $node->cli({ timeout => 30 }, '--timeout', '20000', 'status');
		is($src, 0, 'and answers') or diag($serr);
	}
};

subtest '7. status counters match what was done' => sub {
	my $s = DynamoTest::Node->start(engine => 'wiredtiger');
	my $s0 = $s->status;
	is($s0->{id}, $s->{id}, 'status reports the node id');
	is($s0->{keys}, 0, 'a new node has no keys');
	my $calls = 0;
	$s->put_ok('st', "k$_", "v$_"), $calls++ for 1 .. 5;
	my $c = $s->put_ok('st', 'k1', 'v1 again', $s->get('st', 'k1')->{context});
	$calls += 2;
	$s->get('st', 'k2'), $calls++;
	is($s->get('st', 'missing')->{rc}, 1, 'missing key');
	$calls++;
	my ($rc) = $s->cli('put', 'st', 'k3', 'x', '--w', '2');
	is($rc, 3, 'one refused put (w=2)');
	$calls++;
	my $s1 = $s->status;
	$calls++;
	is($s1->{keys}, 5, 'keys: 5 distinct keys written');
	is($s1->{requests}{put} - $s0->{requests}{put}, 7, 'requests.put: 7 (6 + the refused one)');
	is($s1->{requests}{get} - $s0->{requests}{get}, 3, 'requests.get: 3');
	is($s1->{requests}{delete} - $s0->{requests}{delete}, 0, 'requests.delete: 0');
	cmp_ok($s1->{requests}{errors} - $s0->{requests}{errors}, '>=', 1, 'requests.errors counts the refusal');
	is($s1->{connections}{total} - $s0->{connections}{total}, $calls,
		'connections.total: one per dynamo-cli call');
	is($s1->{connections}{open}, 1, 'connections.open: only the status call itself');

	my ($rcd) = $s->cli('delete', 'st', 'k4', '--context', $s->get('st', 'k4')->{context});
	is($rcd, 0, 'delete');
	my $s2 = $s->status;
	is($s2->{requests}{delete} - $s0->{requests}{delete}, 1, 'requests.delete: 1');
	cmp_ok($s2->{keys}, '>=', 4, 'keys after a delete: the other 4 at least');
	cmp_ok($s2->{keys}, '<=', 5, 'and at most 5 (if the tombstone counts)');
	$s->stop;
	$s->restart;
	my $s3 = $s->status;
	is($s3->{keys}, $s2->{keys}, 'the key count is the same after a restart');
	$s->stop;
};

subtest '8. dynamo-cli exit codes' => sub {
	my ($rc, $out, $err) = $node->cli('get', 'nothing', 'here');
	is($rc, 1, 'get of a missing key exits 1');
	like($err, qr/not found/, 'and says not found');

	($rc, $out, $err) = $node->cli('--json', 'get', 'nothing', 'here');
	is($rc, 1, 'get --json of a missing key exits 1');
	my $j = json_decode($out);
	is_deeply($j && $j->{siblings}, [], 'and prints no siblings');

	my @usage = (
		[ 'no command'             => [] ],
		[ 'unknown command'        => ['frobnicate'] ],
		[ 'put without a value'    => [ 'put', 'b', 'k' ] ],
		[ 'get with extra args'    => [ 'get', 'b', 'k', 'extra' ] ],
		[ 'unknown flag'           => [ '--bogus', 'status' ] ],
		[ '--r 0'                  => [ 'get', 'b', 'k', '--r', '0' ] ],
		[ '--w not a number'       => [ 'put', 'b', 'k', 'v', '--w', 'two' ] ],
		[ '--r on put'             => [ 'put', 'b', 'k', 'v', '--r', '1' ] ],
		[ '--context on get'       => [ 'get', 'b', 'k', '--context', 'AQ' ] ],
		[ 'malformed context'      => [ 'put', 'b', 'k', 'v', '--context', '!!not base64!!' ] ],
		[ 'flag without its value' => [ 'get', 'b', 'k', '--r' ] ],
		[ 'empty bucket'           => [ 'get', '', 'k' ] ],
		[ 'key over 4096 bytes'    => [ 'put', 'b', 'k' x 4097, 'v' ] ],
	);
	for my $u (@usage)
	{
		($rc, $out, $err) = $node->cli(@{ $u->[1] });
		is($rc, 2, "usage error ($u->[0]) exits 2") or diag($err);
	}
	($rc, undef, $err) = run_cmd(cmd => [ bin('dynamo-cli'), '--node', $node->addr, 'status' ]);
	is($rc, 2, 'neither --key nor --insecure exits 2') or diag($err);

	my $dead = free_port();
	($rc, undef, $err) = cli_at("127.0.0.1:$dead", 'get', 'b', 'k');
	is($rc, 4, 'nothing listening on the port exits 4') or diag($err);
	($rc) = cli_at("127.0.0.1:$dead", 'status');
	is($rc, 4, 'status with nothing listening exits 4');

	($rc, undef, $err) = $node->cli('get', 'b', 'k', '--r', '4');
	is($rc, 2, 'get --r 4 with n=3 exits 2 (r exceeds n)');
	like($err, qr/n\s*=\s*3|exceed/i, 'and says r exceeds n');
	($rc, undef, $err) = $node->cli('put', 'b', 'k', 'v', '--w', '4');
	is($rc, 2, 'put --w 4 with n=3 exits 2');

	($rc, undef, $err) = $node->cli('put', 'b', 'k', 'v', '--w', '2');
	is($rc, 3, 'put --w 2 on a single node exits 3 (quorum not met)');
	like($err, qr/\b1 of 3 replicas acknowledged \(2 needed\)/,
		'and says how many replicas acknowledged (1 of 3, 2 needed)') or diag($err);
	($rc, undef, $err) = $node->cli('get', 'b', 'k', '--r', '3');
	is($rc, 3, 'get --r 3 on a single node exits 3');
	like($err, qr/\b1\b.*\b3\b/, 'and says 1 of 3 answered') or diag($err);

	($rc) = $node->cli('put', 'b', 'k', 'v', '--w', '1');
	is($rc, 0, 'put --w 1 succeeds');
	($rc) = $node->cli('get', 'b', 'k', '--r', '1');
	is($rc, 0, 'get --r 1 succeeds');
};

subtest 'coverage scan: every key of a bucket once, across all partitions, in pages' => sub {
	my $s = DynamoTest::Node->start(engine => 'wiredtiger');
	my %want;
	for my $i (1 .. 60)
	{
		$s->put_ok('scanb', "key$i", "v$i");
		$want{"key$i"} = 1;
	}
	$s->put_ok('scanbx', 'other', 'not in the bucket');
	my $st = $s->status;
	my $q = $st->{partitions};
	my $sock = DynamoTest::raw_connect($s->port);
	my (%seen, $pages, $bad);
	my $reqid = 1;
	for my $p (0 .. $q - 1)
	{
		my $after = '';
		while (1)
		{
			# SCAN: u16 partition, u8 bucket_len, bucket, u16 after_len, after, u16 limit
			print $sock DynamoTest::frame(0x05, ++$reqid,
				pack('n C/a* n/a* n', $p, 'scanb', $after, 2));
			my $f = DynamoTest::read_frame($sock, 5);
			if (!$f || $f->{type} != 0x85 || $f->{reqid} != $reqid) { $bad++; last }
			$pages++;
			my ($more, $count) = unpack('C n', $f->{body});
			my $rest = substr($f->{body}, 3);
			for (1 .. $count)
			{
				my ($key, $obj);
				($key, $rest) = unpack('n/a* a*', $rest);
				($obj, $rest) = unpack('N/a* a*', $rest);
				$seen{$key}++;
				$after = $key;
			}
			last unless $more;
		}
	}
	ok(!$bad, 'every page is a scan reply to its own request');
	is_deeply(\%seen, { map { $_ => 1 } keys %want }, 'each key of the bucket exactly once');
	cmp_ok($pages, '>=', $q, "at least one page per partition ($pages pages)");
	print $sock DynamoTest::frame(0x05, 99, pack('n C/a* n/a* n', $q, 'scanb', '', 2));
	my $f = DynamoTest::read_frame($sock, 5);
	is($f && $f->{type}, 0xFF, 'a partition past the last is refused with an error');
	is($s->status->{requests}{scan}, $pages + 1, 'status counts the scans');
	$s->stop;
};

subtest 'dynamod refuses bad command lines and start-up failures cleanly' => sub {
	my $dir = File::Temp::tempdir('dynamo-bad-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $port = free_port();
	my @base = (bin('dynamod'), '--id', 'bad', '--data', "$dir/data");
	# a refusal is a normal exit with a non-zero status and a message,
	# never a hang (-1) or a crash (128 + signal)
	my $refused = sub {
		my ($what, $args, $why) = @_;
		my ($rc, undef, $err) = run_cmd(cmd => [ @base, @$args ], timeout => 5, cwd => $dir);
		ok($rc > 0 && $rc < 128, "$what: refused with a plain non-zero exit")
		  or diag("exit $rc" . ($rc > 128 ? ' (killed by signal ' . ($rc - 128) . ')' : '') . ": $err");
		like($err, $why, "$what: says why") if $why;
	};
	$refused->('--insecure on a non-loopback address',
		[ '--listen', "0.0.0.0:$port", '--insecure' ], qr/insecure|loopback/i);
	$refused->('neither --key nor --insecure', [ '--listen', "127.0.0.1:$port" ]);
	$refused->('an unknown engine', [ '--listen', "127.0.0.1:$port", '--insecure', '--engine', 'nosuch' ]);
	$refused->('an unknown durability',
		[ '--listen', "127.0.0.1:$port", '--insecure', '--durability', 'maybe' ]);
	$refused->('a port already in use', [ '--listen', $node->addr, '--insecure' ],
		qr/in use|listen/i);
	@base = (bin('dynamod'), '--id', 'bad');
	$refused->('a data directory that cannot be created',
		[ '--data', '/proc/no/such/dir', '--listen', "127.0.0.1:$port", '--insecure' ],
		qr/data directory/i);
	$refused->('a data directory another node has open',
		[ '--data', $node->{data}, '--listen', "127.0.0.1:$port", '--insecure' ],
		qr/wiredtiger|busy|lock/i);
	ok($node->alive, 'the node whose data directory and port were tried is unharmed');
	is($node->get('keep', 'k1')->{siblings}[0]{value}, 'value 1', 'and still serves its data');
};

ok($node->alive, 'the node survived the whole test');
is($node->stop, 0, 'and stops cleanly on SIGTERM');

done_testing();
