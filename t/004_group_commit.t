# 004_group_commit.t
#	Group commit keeps its promise (README "Durability"): with --durability
#	fsync (and flush) on WiredTiger, 20 connections write concurrently,
#	pipelined, and the node is killed with SIGKILL right after the last
#	acknowledgement; after a restart every acknowledged write is there.
#	Each burst also carries a write the node refuses (a blind PUT to a key
#	that already has the 1024 siblings a key may hold), in the same turn and
#	the same sync as the others: it fails alone, and leaves nothing behind.

use strict;
use warnings;

use IO::Select;
use Test::More;
use Time::HiRes qw(time);

use DynamoTest qw(frame raw_connect read_frame raw_get_many);

my $CONNS  = 20;
my $ROUNDS = 40;
my $FULL   = 1024;    # DYN_SIBLINGS_MAX

# A PUT body: u8 bucket_len, bucket, u16 key_len, key, u16 context_len,
# context, u8 w, u32 value_len, value.
sub put_frame
{
	my ($reqid, $bucket, $key, $value) = @_;
	return frame(0x02, $reqid, pack('C/a* n/a* n/a* C N/a*', $bucket, $key, '', 0, $value));
}

sub write_all
{
	my ($s, $bytes) = @_;
	my $off = 0;
	while ($off < length $bytes)
	{
		my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
		die "write: $!\n" unless defined $n;
		$off += $n;
	}
}

sub value_of { my ($c, $r, $w) = @_; return "v-$c-$r-$w-" . ('x' x (($c * 7 + $r) % 53)) }

sub scenario
{
	my ($durability) = @_;
	my $node = DynamoTest::Node->start(engine => 'wiredtiger', durability => $durability);
	my $st = $node->status;
	is($st->{durability}, $durability, "status reports durability $durability");
	ok($st->{group_commit}{on}, 'group commit is on');

	# the key every burst tries to add one more sibling to
	my $s0 = raw_connect($node->port) or die "connect: $!\n";
	write_all($s0, join('', map { put_frame($_, 'gc', 'full', "sib$_") } 1 .. $FULL));
	my $seeded = 0;
	for (1 .. $FULL)
	{
		my $f = read_frame($s0, 10) or last;
		$seeded++ if $f->{type} == 0x82;
	}
	is($seeded, $FULL, "$FULL blind PUTs give gc/full $FULL siblings");
	close $s0;

	my @socks = map { raw_connect($node->port) or die "connect: $!\n" } 1 .. $CONNS;
	my %conn_of = map { ($socks[$_] => $_) } 0 .. $#socks;
	my (%acked, @unexpected);
	my ($refused, $good_sent) = (0, 0);
	for my $r (1 .. $ROUNDS)
	{
		# every connection sends its burst before any reply is read, so the
		# bursts of many connections land in one turn of the node's loop
		for my $c (0 .. $#socks)
		{
			my $base = $r * 10;
			write_all($socks[$c], put_frame($base + 1, "c$c", "k$r-a", value_of($c, $r, 'a'))
				  . put_frame($base + 2, 'gc', 'full', "refused-$c-$r")
				  . put_frame($base + 3, "c$c", "k$r-b", value_of($c, $r, 'b')));
			$good_sent += 2;
		}
		for my $c (0 .. $#socks)
		{
			for (1 .. 3)
			{
				my $f = read_frame($socks[$c], 10);
				if (!$f) { push @unexpected, "conn $c round $r: no reply ($@)"; last }
				my $which = $f->{reqid} - $r * 10;
				if ($which == 2)
				{
					my $e = $f->{type} == 0xFF ? DynamoTest::decode_error($f->{body}) : undef;
					if ($e && $e->{code} == 6 && $e->{message} =~ /siblings already/) { $refused++ }
					else { push @unexpected, "conn $c round $r: the 65th sibling was not refused" }
				}
				elsif ($f->{type} == 0x82 && ($which == 1 || $which == 3))
				{
					$acked{"c$c/k$r-" . ($which == 1 ? 'a' : 'b')} = value_of($c, $r, $which == 1 ? 'a' : 'b');
				}
				else
				{
					push @unexpected, sprintf('conn %d round %d: reply type 0x%02x to request %d',
						$c, $r, $f->{type}, $f->{reqid});
				}
			}
		}
	}
	# the last acknowledgement has been read: kill at once
	$node->kill9;
	close $_ for @socks;

	is_deeply(\@unexpected, [], 'every request answered as expected') or diag($node->log_tail);
	is(scalar keys %acked, $good_sent, "all $good_sent good writes acknowledged");
	is($refused, $CONNS * $ROUNDS, "each of the $refused refused writes failed on its own");

	$node->restart;
	my $got = raw_get_many($node->port, map { [ split m{/}, $_, 2 ] } sort keys %acked);
	ok($got, 'pipelined GETs of every acknowledged key answered');
	my @missing;
	for my $k (sort keys %acked)
	{
		my @v = map { $_->{value} } grep { !$_->{tombstone} } @{ $got->{$k} // [] };
		push @missing, $k unless @v == 1 && $v[0] eq $acked{$k};
	}
	is_deeply(\@missing, [], "every acknowledged write is there after kill -9 and restart")
	  or diag(scalar(@missing) . ' missing, e.g. ' . join(', ', @missing[ 0 .. ($#missing < 4 ? $#missing : 4) ]));

	my $full = raw_get_many($node->port, [ 'gc', 'full' ]);
	my @vals = sort map { $_->{value} } @{ $full->{'gc/full'} // [] };
	is(scalar @vals, $FULL, "gc/full still has exactly $FULL siblings");
	is(scalar(grep { /^refused-/ } @vals), 0, 'none of them from a refused write');
	is($node->status->{keys}, $good_sent + 1, 'status counts every acknowledged key and gc/full');
	$node->stop;
	return $node;
}

subtest '--durability fsync: 20 connections, kill -9 after the acks' => sub {
	scenario('fsync');
};

subtest '--durability flush: the same' => sub {
	scenario('flush');
};

subtest 'writes of many connections share one fsync' => sub {
	my $node = DynamoTest::Node->start(engine => 'wiredtiger', durability => 'fsync');
	my @socks = map { raw_connect($node->port) or die "connect: $!\n" } 1 .. $CONNS;
	my ($id, $acks) = (0, 0);
	for my $r (1 .. 20)
	{
		write_all($socks[$_], put_frame(++$id, "s$_", "k$r", 'x' x 100)) for 0 .. $#socks;
		for my $s (@socks)
		{
			my $f = read_frame($s, 10);
			$acks++ if $f && $f->{type} == 0x82;
		}
	}
	my $g = $node->status->{group_commit};
	my $writes = $CONNS * 20;
	is($acks, $writes, "$writes writes acknowledged");
	ok($g->{syncs} > 0 && $g->{syncs} < $writes,
		"$writes writes of $CONNS connections took $g->{syncs} syncs (fewer than one each)");
	cmp_ok($g->{max_writes_per_sync}, '>', 1,
		'one sync covered the writes of several connections (each sent one at a time)');
	is($g->{sync_failures}, 0, 'no sync failed');
	$node->stop;
};

done_testing();
